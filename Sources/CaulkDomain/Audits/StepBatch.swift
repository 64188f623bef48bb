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

    /// Step names are letters, digits, - and _.
    static let sizesSection = ":sizes"

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
            "timeout -k 2 \(step.timeout) \(Self.invocation(step.command)) </dev/null >\"$d/\(index)\" 2>\"$d/\(index).err\"; "
                + "echo $? >\"$d/\(index).rc\""
        }
        if parallel {
            lines += run.map { "( \($0) ) &" }
            lines.append("wait")
        }
        for (index, step) in steps.enumerated() {
            let name = ShellQuote.quote(step.name)
            if !parallel { lines.append(run[index]) }
            // Shell builtins where they do (`read`, `[`): each process costs the node CPU, times
            // every step of every node. One byte over the limit is sent, so a cut step is known
            // even when the sizes at the end never arrive.
            lines.append(
                "rc=; if [ -f \"$d/\(index).rc\" ]; then read rc <\"$d/\(index).rc\"; fi; printf '\\n%s %s\\n' \"$m\" \(name); "
                    + "if [ -s \"$d/\(index)\" ]; then head -c \(step.maxOutput + 1) \"$d/\(index)\"; fi; printf '\\n%s-exit %s %s\\n' \"$m\" \(name) \"$rc\"; "
                    + "printf '\\n%s %s\\n' \"$m\" \(name) >&2; if [ -s \"$d/\(index).err\" ]; then head -c \(Playbook.Step.maxError) \"$d/\(index).err\" >&2; fi")
        }
        // Every step's full size in one process at the end: "SIZE DIR/INDEX" lines, in a
        // section no step can be named.
        lines.append("printf '\\n%s %s\\n' \"$m\" \(Self.sizesSection); wc -c \"$d\"/*[0-9]")
        // Each step stops itself; the channel gets their sum (or the longest, in parallel) and a margin.
        let total = parallel ? (steps.map(\.timeout).max() ?? 0) + 10 : steps.reduce(5) { $0 + $1.timeout + 2 }
        return SSHCommand(lines.joined(separator: "\n"), timeout: .seconds(total), stopOnHost: false)
    }

    /// How `timeout` runs a step: a plain command line (words of safe characters, not a shell
    /// builtin) as the program itself, anything else through `sh -c`: one process fewer per
    /// step for most steps.
    static func invocation(_ command: String) -> String {
        let words = command.split(separator: " ")
        guard let first = words.first, !first.hasPrefix("-"), !shellBuiltins.contains(String(first)),
              command.unicodeScalars.allSatisfy({ plainCharacters.contains($0) })
        else { return "sh -c \(ShellQuote.quote(command))" }
        return words.joined(separator: " ")
    }

    private static let plainCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._/:,+@%-")
    /// Every POSIX special and regular builtin and reserved word: `timeout` would run the
    /// program of that name, or none.
    private static let shellBuiltins: Set<String> = [
        ".", ":", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set", "shift", "times", "trap", "unset",
        "alias", "bg", "cd", "command", "echo", "false", "fc", "fg", "getopts", "hash", "jobs", "kill", "newgrp", "printf", "pwd", "read",
        "test", "true", "type", "ulimit", "umask", "unalias", "wait", "local", "source", "if", "then", "else", "elif", "fi", "do", "done",
        "case", "esac", "while", "until", "for", "in", "function", "select", "time",
    ]

    /// Each step's output; a step cut off by the channel's end (timeout, lost connection) is
    /// missing, one over its own limit is marked truncated.
    func split(_ result: CommandResult) -> [String: StepOutput] {
        split(stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut, truncated: result.stdoutTruncated)
    }

    func split(stdout: String, stderr: String, timedOut: Bool, truncated: Bool) -> [String: StepOutput] {
        split(stdout: Array(stdout.utf8), stderr: Array(stderr.utf8), timedOut: timedOut, truncated: truncated)
    }

    /// Works on the bytes as they came: a node's output runs to megabytes, and Foundation's
    /// string searches cost several times the checks themselves.
    func split(stdout stdoutBytes: [UInt8], stderr stderrBytes: [UInt8], timedOut: Bool, truncated: Bool) -> [String: StepOutput] {
        var stdout = sections(stdoutBytes)
        let stderr = sections(stderrBytes).mapValues { String(decoding: $0, as: UTF8.self) }
        let sizes = stdout.removeValue(forKey: Self.sizesSection).map(Self.sizes) ?? [:]
        var outputs: [String: StepOutput] = [:]
        for (index, step) in steps.enumerated() {
            guard let section = stdout[step.name] else { continue }
            // Output runs up to "\n<marker>-exit NAME STATUS"; the newline before the marker is ours.
            guard let end = Self.occurrences(of: Array("\n\(marker)-exit \(step.name) ".utf8), in: section).last else {
                outputs[step.name] = StepOutput(
                    exitStatus: nil, stdout: String(decoding: section, as: UTF8.self), stderr: stderr[step.name] ?? "", timedOut: timedOut,
                    truncated: truncated, limit: step.maxOutput)
                continue
            }
            let statusBytes = section[end.upperBound...].prefix { $0 != UInt8(ascii: "\n") }
            let status = Int(String(decoding: statusBytes, as: UTF8.self).trimmingCharacters(in: .whitespaces))
            // The node sends one byte over the limit when there was more; that byte is not output.
            let printed = section[..<end.lowerBound]
            var output = StepOutput(
                exitStatus: status, stdout: String(decoding: printed.prefix(step.maxOutput), as: UTF8.self), stderr: stderr[step.name] ?? "",
                timedOut: status == Self.timedOutStatus, truncated: sizes[index].map { $0 > step.maxOutput } ?? (printed.count > step.maxOutput),
                limit: step.maxOutput)
            output.size = sizes[index]
            outputs[step.name] = output
        }
        return outputs
    }

    /// `wc -c` of the steps' files: "SIZE DIR/INDEX" lines, a total line last.
    private static func sizes(_ bytes: ArraySlice<UInt8>) -> [Int: Int] {
        var sizes: [Int: Int] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let size = Int(fields[0]), let slash = fields[1].lastIndex(of: "/"),
                  let index = Int(fields[1][fields[1].index(after: slash)...]) else { continue }
            sizes[index] = size
        }
        return sizes
    }

    /// The bytes after each "\n<marker> NAME\n" line, up to the next marker line, by NAME.
    private func sections(_ bytes: [UInt8]) -> [String: ArraySlice<UInt8>] {
        let starts = Self.occurrences(of: Array("\n\(marker) ".utf8), in: bytes[...])
        var result: [String: ArraySlice<UInt8>] = [:]
        for (number, opening) in starts.enumerated() {
            let part = bytes[opening.upperBound..<(number + 1 < starts.count ? starts[number + 1].lowerBound : bytes.endIndex)]
            guard let newline = part.firstIndex(of: UInt8(ascii: "\n")) else { continue }
            result[String(decoding: part[..<newline], as: UTF8.self)] = part[(newline + 1)...]
        }
        return result
    }

    /// Where `needle` occurs in `bytes`, in order, without overlaps.
    static func occurrences(of needle: [UInt8], in bytes: ArraySlice<UInt8>) -> [Range<Int>] {
        guard !needle.isEmpty, bytes.count >= needle.count else { return [] }
        return bytes.withUnsafeBufferPointer { haystack in
            needle.withUnsafeBufferPointer { pattern in
                var found: [Range<Int>] = []
                var offset = 0
                // memchr to each candidate first byte, memcmp for the rest (glibc's memmem is not
                // in Swift's Glibc module).
                while haystack.count - offset >= pattern.count,
                      let hit = memchr(haystack.baseAddress! + offset, Int32(pattern[0]), haystack.count - offset - pattern.count + 1)
                {
                    let at = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) - haystack.baseAddress!
                    if memcmp(haystack.baseAddress! + at, pattern.baseAddress!, pattern.count) == 0 {
                        found.append((bytes.startIndex + at)..<(bytes.startIndex + at + pattern.count))
                        offset = at + pattern.count
                    } else {
                        offset = at + 1
                    }
                }
                return found
            }
        }
    }
}
