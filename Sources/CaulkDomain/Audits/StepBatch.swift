import CaulkSSH
import Foundation

/// A node's steps sent as one command over one SSH channel, each step under its own `timeout`,
/// its stdout and stderr framed by marker lines that carry a random nonce. One round trip then
/// serves every step, instead of a channel (and a remote `timeout`) per step.
struct StepBatch {
    struct Step {
        let name: String
        let command: String
        let timeout: Int
    }

    let steps: [Step]
    let marker: String
    /// Run the steps at once, each into its own files in a private temporary directory, and
    /// print them in order when all are done (kubectl calls: each waits on the API server).
    let parallel: Bool

    init(_ steps: [Step], parallel: Bool = false) {
        self.steps = steps
        self.parallel = parallel
        marker = "@@caulk-" + (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max)) }.joined()
    }

    /// `timeout` exits 124 when it had to stop the step.
    static let timedOutStatus = 124

    var command: SSHCommand {
        parallel ? parallelCommand : sequentialCommand
    }

    private var sequentialCommand: SSHCommand {
        var lines = ["m=\(marker)"]
        for step in steps {
            let name = ShellQuote.quote(step.name)
            lines.append(
                "printf '\\n%s %s\\n' \"$m\" \(name); printf '\\n%s %s\\n' \"$m\" \(name) >&2; "
                    + "timeout -k 2 \(step.timeout) sh -c \(ShellQuote.quote(step.command)) </dev/null; "
                    + "printf '\\n%s-exit %s %s\\n' \"$m\" \(name) \"$?\"")
        }
        // Each step stops itself; the channel gets their sum and a margin.
        let total = steps.reduce(5) { $0 + $1.timeout + 2 }
        return SSHCommand(lines.joined(separator: "\n"), timeout: .seconds(total), stopOnHost: false)
    }

    private var parallelCommand: SSHCommand {
        var lines = ["m=\(marker)", "d=$(mktemp -d) || exit 1", "trap 'rm -rf \"$d\"' EXIT"]
        for (index, step) in steps.enumerated() {
            lines.append(
                "( timeout -k 2 \(step.timeout) sh -c \(ShellQuote.quote(step.command)) </dev/null >\"$d/\(index)\" 2>\"$d/\(index).err\"; "
                    + "echo $? >\"$d/\(index).rc\" ) &")
        }
        lines.append("wait")
        for (index, step) in steps.enumerated() {
            let name = ShellQuote.quote(step.name)
            lines.append(
                "printf '\\n%s %s\\n' \"$m\" \(name); cat \"$d/\(index)\"; printf '\\n%s-exit %s %s\\n' \"$m\" \(name) \"$(cat \"$d/\(index).rc\")\"; "
                    + "printf '\\n%s %s\\n' \"$m\" \(name) >&2; cat \"$d/\(index).err\" >&2")
        }
        let longest = steps.map(\.timeout).max() ?? 0
        return SSHCommand(lines.joined(separator: "\n"), timeout: .seconds(longest + 10), stopOnHost: false)
    }

    /// Each step's output; a step cut off by the channel's end (cap, timeout) is missing.
    func split(_ result: CommandResult) -> [String: StepOutput] {
        split(
            stdout: String(decoding: result.stdout, as: UTF8.self), stderr: String(decoding: result.stderr, as: UTF8.self),
            timedOut: result.timedOut, truncated: result.stdoutTruncated)
    }

    func split(stdout stdoutText: String, stderr stderrText: String, timedOut: Bool, truncated: Bool) -> [String: StepOutput] {
        let stdout = sections(stdoutText)
        let stderr = sections(stderrText)
        var outputs: [String: StepOutput] = [:]
        for step in steps {
            guard let section = stdout[step.name] else { continue }
            // Output runs up to "\n<marker>-exit NAME STATUS"; the newline before the marker is ours.
            let exitLine = "\n\(marker)-exit \(step.name) "
            guard let end = section.range(of: exitLine, options: .backwards) else {
                outputs[step.name] = StepOutput(exitStatus: nil, stdout: section, stderr: stderr[step.name] ?? "", timedOut: timedOut, truncated: truncated)
                continue
            }
            let status = Int(section[end.upperBound...].prefix { $0.isNumber })
            outputs[step.name] = StepOutput(
                exitStatus: status, stdout: String(section[..<end.lowerBound]), stderr: stderr[step.name] ?? "",
                timedOut: status == Self.timedOutStatus, truncated: false)
        }
        return outputs
    }

    /// The text after each "\n<marker> NAME\n" line, up to the next marker line.
    private func sections(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        let opening = "\n\(marker) "
        var parts = text.components(separatedBy: opening)
        parts.removeFirst()
        for part in parts {
            guard let newline = part.firstIndex(of: "\n") else { continue }
            result[String(part[..<newline])] = String(part[part.index(after: newline)...])
        }
        return result
    }
}
