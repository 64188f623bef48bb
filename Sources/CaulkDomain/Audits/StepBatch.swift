import CaulkSSH
import Foundation

/// A node's steps sent as one command over one SSH channel, each step under its own `timeout`,
/// its stdout and stderr framed by marker lines that carry a random nonce. One round trip then
/// serves every step, instead of a channel (and a remote `timeout`) per step. Each step writes to
/// files in a private temporary directory on the node and only its first `maxOutput` bytes are
/// sent, with its full size: one step that prints megabytes is cut on its own, and named, never
/// the steps after it.
struct StepBatch {
    struct Step {
        let name: String
        let command: String
        let timeout: Int
        var maxOutput: Int = Playbook.Step.defaultMaxOutput
    }

    let steps: [Step]
    let marker: String
    /// Run the steps at once and print them in order when all are done (kubectl calls: each
    /// waits on the API server).
    let parallel: Bool

    init(_ steps: [Step], parallel: Bool = false) {
        self.steps = steps
        self.parallel = parallel
        marker = "@@caulk-" + (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max)) }.joined()
    }

    /// `timeout` exits 124 when it had to stop the step.
    static let timedOutStatus = 124

    /// What the channel may carry: every step's share and the framing, so only a step's own
    /// limit ever cuts it.
    var outputCap: Int {
        steps.reduce(64 << 10) { $0 + $1.maxOutput + 512 }
    }

    var command: SSHCommand {
        var lines = ["m=\(marker)", "d=$(mktemp -d) || exit 1", "trap 'rm -rf \"$d\"' EXIT"]
        let run = steps.enumerated().map { index, step in
            "timeout -k 2 \(step.timeout) sh -c \(ShellQuote.quote(step.command)) </dev/null >\"$d/\(index)\" 2>\"$d/\(index).err\"; "
                + "echo $? >\"$d/\(index).rc\""
        }
        if parallel {
            lines += run.map { "( \($0) ) &" }
            lines.append("wait")
        }
        for (index, step) in steps.enumerated() {
            let name = ShellQuote.quote(step.name)
            if !parallel { lines.append(run[index]) }
            // The exit line carries the status and the full size of the step's output. Shell
            // builtins where they do (`read`, `[`): each process costs the node CPU, times every
            // step of every node.
            lines.append(
                "rc=; if [ -f \"$d/\(index).rc\" ]; then read rc <\"$d/\(index).rc\"; fi; printf '\\n%s %s\\n' \"$m\" \(name); head -c \(step.maxOutput) \"$d/\(index)\"; "
                    + "printf '\\n%s-exit %s %s %s\\n' \"$m\" \(name) \"$rc\" \"$(wc -c <\"$d/\(index)\")\"; "
                    + "printf '\\n%s %s\\n' \"$m\" \(name) >&2; if [ -s \"$d/\(index).err\" ]; then head -c \(Playbook.Step.maxError) \"$d/\(index).err\" >&2; fi")
        }
        // Each step stops itself; the channel gets their sum (or the longest, in parallel) and a margin.
        let total = parallel ? (steps.map(\.timeout).max() ?? 0) + 10 : steps.reduce(5) { $0 + $1.timeout + 2 }
        return SSHCommand(lines.joined(separator: "\n"), timeout: .seconds(total), stopOnHost: false)
    }

    /// Each step's output; a step cut off by the channel's end (timeout, lost connection) is
    /// missing, one over its own limit is marked truncated.
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
            // Output runs up to "\n<marker>-exit NAME STATUS SIZE"; the newline before the marker is ours.
            let exitLine = "\n\(marker)-exit \(step.name) "
            guard let end = section.range(of: exitLine, options: .backwards) else {
                outputs[step.name] = StepOutput(
                    exitStatus: nil, stdout: section, stderr: stderr[step.name] ?? "", timedOut: timedOut, truncated: truncated, limit: step.maxOutput)
                continue
            }
            let fields = section[end.upperBound...].prefix { $0 != "\n" }.split(separator: " ")
            let status = fields.first.flatMap { Int($0) }
            let size = fields.dropFirst().first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            var output = StepOutput(
                exitStatus: status, stdout: String(section[..<end.lowerBound]), stderr: stderr[step.name] ?? "",
                timedOut: status == Self.timedOutStatus, truncated: (size ?? 0) > step.maxOutput, limit: step.maxOutput)
            output.size = size
            outputs[step.name] = output
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
