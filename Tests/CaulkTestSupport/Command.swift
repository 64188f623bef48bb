import Foundation

/// A program run to its end, as the tests run ssh, the lab's command, a shell or caulk itself.
public enum Command {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String

        public var succeeded: Bool { status == 0 }
    }

    /// Runs `executable` with `arguments`, `input` on its standard input (none: /dev/null), and
    /// waits. Output goes through files, so a chatty program never blocks on a full pipe.
    /// `environment` nil: the test process's own.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, directory: URL? = nil
    ) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "caulk-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (out, err) = (scratch.appending(path: "out"), scratch.appending(path: "err"))
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            pipe.fileHandleForWriting.write(input)
            try pipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Kills a program started in the background and waits for it to go (up to 5 s). Not
    /// `waitUntilExit`: from a deinit on a concurrency thread, Foundation's can spin forever.
    public static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<50 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// `sh -c command`; throws with its stderr unless it exits 0. Returns its stdout.
    @discardableResult
    public static func shell(_ command: String) throws -> String {
        let result = try run("/bin/sh", ["-c", command])
        guard result.succeeded else { throw Failure("failed (\(result.status)): \(command): \(result.stderr)") }
        return result.stdout
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}

/// The test fleet `lab/caulk-lab up` brings up: its command, and its nodes over plain OpenSSH
/// (as an operator would check caulk's work) with the key the lab made.
public enum LabFleet {
    /// The repository's root.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let command = root.appending(path: "lab/caulk-lab").path
    public static let key = "/run/caulk-lab/id_ed25519"

    /// `caulk-lab ARGS`; throws with its stderr unless it exits 0. Returns its stdout.
    @discardableResult
    public static func lab(_ arguments: String...) throws -> String {
        let result = try Command.run(command, arguments)
        guard result.succeeded else { throw Command.Failure("caulk-lab \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)") }
        return result.stdout
    }

    /// Runs `command` on the node at `address` as `user`.
    public static func ssh(_ address: String, _ command: String, user: String = "root") throws -> Command.Result {
        try Command.run("/usr/bin/ssh", [
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-i", key, "\(user)@\(address)", command,
        ])
    }
}
