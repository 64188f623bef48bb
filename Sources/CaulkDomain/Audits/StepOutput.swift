import Foundation

/// What one playbook step printed on one host, as the checks read it.
public struct StepOutput: Sendable, Equatable {
    public var exitStatus: Int?
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
    /// Cut at `limit` bytes: what is here is not all the step printed.
    public var truncated: Bool
    /// The step's own output limit (`max_output`), for messages.
    public var limit: Int?
    /// How many bytes the step printed, when the node said.
    public var size: Int?

    public var succeeded: Bool { !timedOut && exitStatus == 0 }

    /// The step ran to its end and all of its output is here, whatever its exit status.
    public var complete: Bool { !timedOut && !truncated && exitStatus != nil }

    init(exitStatus: Int?, stdout: String, stderr: String = "", timedOut: Bool = false, truncated: Bool = false, limit: Int? = nil) {
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
        self.timedOut = timedOut
        self.truncated = truncated
        self.limit = limit
    }

    var lines: [String] {
        stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Standard output parsed as JSON, when the step succeeded and it is JSON.
    var json: Any? {
        guard succeeded, !truncated else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(stdout.utf8))
    }

    /// Why the step gave nothing usable, in a few words, for evidence.
    var problem: String {
        if timedOut { return "timed out" }
        if truncated {
            let printed = size.map { " (\(Self.bytes($0)))" } ?? ""
            return "its output\(printed) is over its \(limit.map(Self.bytes) ?? "") limit (max_output) and was cut"
        }
        if exitStatus == nil { return "cut off before it finished (the connection or the node's batch ended)" }
        let text = (stderr.isEmpty ? stdout : stderr).trimmingCharacters(in: .whitespacesAndNewlines)
        return "exit \(exitStatus.map(String.init) ?? "?")" + (text.isEmpty ? "" : ": " + Excerpt.of(text, lines: 3))
    }
}

extension StepOutput {
    /// `7340032` → `7.0 MiB`.
    static func bytes(_ count: Int) -> String {
        count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / Double(1 << 20))
            : count >= 1 << 10 ? "\(count >> 10) KiB" : "\(count) bytes"
    }
}

/// Bounded excerpts of command output for findings' evidence.
enum Excerpt {
    static let maxBytes = 2048

    static func of(_ text: String, lines: Int = 10) -> String {
        var kept = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(lines).joined(separator: "\n")
        if kept.utf8.count > maxBytes { kept = String(decoding: kept.utf8.prefix(maxBytes), as: UTF8.self) + "…" }
        return kept
    }
}

/// Dictionary and array access for JSON from `JSONSerialization`, without a cast at every step.
extension Dictionary where Key == String, Value == Any {
    subscript(object key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    subscript(array key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    subscript(string key: String) -> String? { self[key] as? String }
    subscript(int key: String) -> Int? { (self[key] as? NSNumber)?.intValue ?? (self[key] as? String).flatMap { Int($0) } }
}
