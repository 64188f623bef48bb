import Foundation
import Testing

/// Odd arguments in every position of every client command, against a live server: each run
/// ends with a usage error or the server's 4xx message, never a crash, and the server stays up.
@Suite(.serialized) struct CLIFuzzTests {
    /// Command lines that work on the seeded inventory (cluster c1 with nodes n1, n2, unpinned,
    /// so nothing here reaches SSH). Positions from the first argument that is not a
    /// subcommand name are replaced, one at a time.
    static let commands: [(fixed: Int, arguments: [String])] = [
        (1, ["clusters", "list", "--encapsulation", "vxlan"]),
        (2, ["clusters", "get", "c1"]),
        (2, ["clusters", "add", "c9", "--api-endpoint", "https://198.18.9.1:6443", "--pod-cidr", "10.244.0.0/16", "--ssh-port", "22", "--bastion", "jump@198.18.9.2:22"]),
        (2, ["clusters", "set", "c1", "--ssh-user", "root", "--ssh-become", "root", "--encapsulation", "ipip"]),
        (2, ["clusters", "rm", "c9"]),
        (2, ["nodes", "list", "--cluster", "c1", "--role", "worker", "--label", "zone=a"]),
        (2, ["nodes", "get", "c1", "n1"]),
        (2, ["nodes", "add", "c1", "n9", "--address", "198.18.9.9", "--role", "worker", "--label", "zone=a", "--host-key", "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"]),
        (2, ["nodes", "set", "c1", "n2", "--label", "zone=b", "--ssh-port", "2222"]),
        (2, ["nodes", "rm", "c1", "n9"]),
        (1, ["exec", "c1", "--nodes", "n1,n2", "--timeout", "5", "--concurrency", "2", "--", "true"]),
        (1, ["audit", "c1", "--param", "probe_peers=2", "--concurrency", "2", "--no-wait"]),
        (1, ["repair", "c1", "--dry-run", "--nodes", "n1", "--batch", "1", "--max-failures", "1", "--verify-timeout", "30"]),
        (2, ["auto-repair", "set", "c1", "--off", "--delay", "60", "--max-per-hour", "2", "--max-share", "0.5"]),
        (2, ["auto-repair", "show", "c1"]),
        (1, ["health", "c1"]),
        (1, ["reboots", "--cluster", "c1", "--node", "n1"]),
        (2, ["schedules", "add", "nightly", "--cron", "0 3 * * *", "--cluster", "c1"]),
        (2, ["schedules", "pause", "nightly"]),
        (2, ["runs", "list", "--cluster", "c1", "--kind", "audit", "--limit", "5"]),
        (2, ["runs", "show", "1"]),
        (2, ["tokens", "create", "fuzz", "--role", "viewer"]),
        (2, ["tokens", "revoke", "fuzz"]),
        (2, ["beacon", "install", "c1", "--node-url", "http://198.18.0.1:8420", "--nodes", "n9"]),
    ]

    static let oddValues = [
        "", String(repeating: "a", count: 5000), "ünïcødé-名前🙂", "-1", "99999999999999999999999", "../../etc/passwd",
        "n1,n1,,n1", "x\ny", "'; touch /tmp/caulk-fuzz-pwned #", "=", "k=v=w",
    ]

    @Test func noArgumentCrashesTheCLIOrTheServer() throws {
        let server = try LiveServer()
        try server.start()
        let token = server.adminToken
        try #require(server.caulk(["clusters", "add", "c1", "--api-endpoint", "https://198.18.9.1:6443"], token: token).status == 0)
        for node in ["n1", "n2"] {
            try #require(server.caulk(["nodes", "add", "c1", node, "--address", "198.18.9.\(node.dropFirst())"], token: token).status == 0)
        }
        var runs = 0
        var statuses: [Int32: Int] = [:]
        for (fixed, arguments) in Self.commands {
            for position in fixed..<arguments.count where arguments[position] != "--" {
                for value in Self.oddValues {
                    var mutated = arguments
                    mutated[position] = value
                    let result = try server.caulk(mutated, token: token)
                    runs += 1
                    statuses[result.status, default: 0] += 1
                    let line = mutated.map { $0.count > 40 ? String($0.prefix(40)) + "…" : $0 }.joined(separator: " ")
                    #expect([0, 1, 2, 3].contains(result.status), "caulk \(line): exit \(result.status)\n\(result.stderr.suffix(500))")
                    if result.status == 1 || result.status == 2 {
                        #expect(!result.stderr.isEmpty, "caulk \(line) failed without saying why")
                        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("HTTP 500"), "caulk \(line): \(result.stderr.suffix(500))")
                    }
                }
            }
        }
        print("CLI fuzz: \(runs) command lines, exit statuses \(statuses.sorted { $0.key < $1.key })")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/caulk-fuzz-pwned"))
        #expect(server.process?.isRunning == true, "the server died")
        #expect(try server.caulk(["clusters", "get", "c1"], token: token).status == 0, "the server stopped answering")
    }
}
