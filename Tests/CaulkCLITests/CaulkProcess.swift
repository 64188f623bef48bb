import CaulkTestSupport
import Foundation
import Testing

/// The real `caulk` binary, as a user runs it: a server process on a free port with its own
/// database file, and CLI invocations against it.
final class LiveServer: @unchecked Sendable {
    // Mutated only by the test that owns this server, one call at a time.
    let directory: URL
    let database: String
    private(set) var process: Process?
    private(set) var url = ""
    private(set) var adminToken = ""

    init() throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "caulk-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = directory.appending(path: "var/caulk.db").path
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static var binary: URL {
        if let explicit = ProcessInfo.processInfo.environment["CAULK_BIN"] { return URL(fileURLWithPath: explicit) }
        // The test bundle sits next to the products it was built with.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "caulk")
    }

    /// Everything each `caulk serve` started here printed (stdout and stderr).
    private(set) var logs: [URL] = []

    /// Starts `caulk serve` in `directory` on a free port and waits until it listens.
    /// `listen`: the address (lab nodes reach the host at 198.18.0.1, not at loopback);
    /// `arguments`: more flags of `caulk serve`.
    func start(listen: String = "127.0.0.1:0", arguments: [String] = [], environment: [String: String] = [:]) throws {
        let log = directory.appending(path: "serve-\(UUID().uuidString).out")
        logs.append(log)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--listen", listen, "--database", database, "--bootstrap-token-file", directory.appending(path: "admin.token").path]
            + arguments
        process.currentDirectoryURL = directory
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path, "LOG_LEVEL": "warning"].merging(environment) { _, new in new }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("caulk: listening on ") }) {
                url = String(line.dropFirst("caulk: listening on ".count).prefix { $0 != " " })
                if let token = try? String(contentsOf: directory.appending(path: "admin.token"), encoding: .utf8) {
                    adminToken = token.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CLIFailure("caulk serve did not start; its output: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// Imports the running lab's inventory (`lab/caulk-lab inventory`), failing with how to start it.
    func importLab() throws {
        let inventory = directory.appending(path: "lab.yaml")
        let text = try? LabFleet.lab("inventory", "--format", "caulk")
        try #require(text != nil, "the test fleet is not up: run `make test` (it brings the fleet up as root)")
        try Data(text!.utf8).write(to: inventory)
        let result = try caulk(["inventory", "import", inventory.path], token: adminToken)
        try #require(result.status == 0, "\(result.stderr)")
    }

    static let lab = LabFleet.command

    /// SIGKILL, as a crash would: no shutdown code runs.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    typealias Result = Command.Result

    /// Runs `caulk ARGS` with CAULK_URL and CAULK_TOKEN set (token nil: none).
    @discardableResult
    func caulk(_ arguments: [String], token: String?, input: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        var env = ["PATH": "/usr/bin:/bin", "HOME": directory.path, "CAULK_URL": url]
        if let token { env["CAULK_TOKEN"] = token }
        return try Command.run(
            Self.binary.path, arguments, input: input, environment: env.merging(environment) { _, new in new }, directory: directory)
    }

    /// Starts `caulk ARGS` without waiting for it.
    func launch(_ arguments: [String], token: String) throws -> Process {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path, "CAULK_URL": url, "CAULK_TOKEN": token]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
