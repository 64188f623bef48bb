import CaulkAPI
import Foundation
import CaulkSSH

/// A named list of steps run on a cluster's nodes, and the checks that turn their output into
/// findings. Loaded from YAML (see `PlaybookLoader` and docs/playbooks.md).
public struct Playbook: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case audit, repair }

    /// Where a step runs.
    public enum Scope: String, Sendable, CaseIterable {
        /// On every node of the cluster, all such steps over one SSH connection per node.
        case eachNode = "each-node"
        /// On one reachable control-plane node (the first that answers), e.g. `kubectl`. In a
        /// repair: once, before any node is touched (cluster-wide settings).
        case oneControlPlane = "one-control-plane"
        /// Repairs only: once on that control-plane node after the rollout (e.g. wait for pods).
        case afterNodes = "after-nodes"
    }

    /// Where an `each-node` step of a repair runs: on the node, or on the control-plane node with
    /// that node's parameters (`kubectl delete pod` of the node's calico-node pod).
    public enum Host: String, Sendable, CaseIterable {
        case node
        case controlPlane = "control-plane"
    }

    /// How a step's standard output is read.
    public enum Output: String, Sendable, CaseIterable { case text, json, lines }

    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var defaultValue: String
        public var description: String
    }

    public struct Step: Sendable, Equatable {
        public var name: String
        public var scope: Scope
        /// A shell command with `{{parameter}}` placeholders, each replaced by its shell-quoted value.
        public var command: String?
        /// A step whose command caulk builds (`datapath-probe`), instead of `command`.
        public var builtin: BuiltinStep?
        public var timeout: Int
        public var output: Output
        public var on: Host = .node
        /// Whether it changes the node or cluster; a dry run shows it without running it.
        public var mutates: Bool = true
        /// Bytes of standard output kept; a step that prints more is cut, and checks that read it
        /// say they could not check (`max_output`, default 1 MiB).
        public var maxOutput: Int = Step.defaultMaxOutput
        /// Sent to the command's standard input (repair playbooks), placeholders replaced as they
        /// are, unquoted: how a secret such as the beacon's token reaches the node without
        /// appearing on a command line, in `ps` or in the run history.
        public var stdin: String?

        /// The step as sent to a host: its command with `values` quoted in, and its `stdin` with
        /// them as they are.
        func sshCommand(_ values: [String: String]) -> SSHCommand {
            SSHCommand(
                CommandTemplate.render(command ?? "", values), timeout: .seconds(timeout),
                stdin: stdin.map { Array(CommandTemplate.render($0, values, quoted: false).utf8) })
        }

        public static let defaultMaxOutput = 1 << 20
        /// Standard error kept per step.
        public static let maxError = 64 << 10
    }

    /// Turns step output into findings: a built-in analysis, or a declarative rule.
    public struct Check: Sendable, Equatable {
        public var id: String
        public var builtin: BuiltinCheck?
        public var rule: Rule?
        public var severity: Severity
        public var message: String?
        /// The repair playbook that addresses what this check finds.
        public var repair: String?
    }

    /// A declarative check: fires on a node when its step's exit status or output matches.
    public struct Rule: Sendable, Equatable {
        public enum Exit: Sendable, Equatable { case zero, nonzero, code(Int) }
        public var step: String
        public var exit: Exit?
        public var stdoutMatches: String?
        public var stdoutNotMatches: String?
    }

    public var name: String
    public var kind: Kind
    public var description: String
    public var parameters: [Parameter]
    public var steps: [Step]
    public var checks: [Check]
    /// The file it came from, or `built-in:NAME`.
    public var source: String
    /// Repairs: interrupts the node's pod traffic while it runs, so the rollout defaults to one
    /// node at a time.
    public var disruptive = false
    /// Repairs: never chosen by `calico-recover`; runs only when named.
    public var optIn = false
    /// Repairs: refused unless the request confirms it (cluster-wide, hard to undo).
    public var needsConfirmation = false
    /// Repairs: when chosen, its each-node steps run on every node, not only on nodes whose own
    /// findings call for it, because its cluster-wide step changes them all (a new MTU).
    public var everyNode = false
    /// A composite repair (`calico-recover`): the audit it reads and the repairs it may choose, in
    /// the order they run.
    public var audit: String?
    public var repairs: [String] = []

    public func steps(_ scope: Scope) -> [Step] { steps.filter { $0.scope == scope } }
}

/// Fills `{{name}}` placeholders with shell-quoted values, so nothing from the inventory or a
/// request is ever pasted into a command unquoted.
public enum CommandTemplate {
    /// Parameters every command may use, set per node and cluster by the runner (`ContextValue`).
    public static var contextParameters: Set<String> { ContextValue.names }

    /// The placeholder names a template uses.
    public static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// The command with each placeholder replaced by its quoted value (`quoted: false`: the value
    /// as it is, for standard input). Every name must be in `values` (the loader checked that it
    /// is declared).
    public static func render(_ template: String, _ values: [String: String], quoted: Bool = true) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            out += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += quoted ? ShellQuote.quote(values[name] ?? "") : values[name] ?? ""
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}
