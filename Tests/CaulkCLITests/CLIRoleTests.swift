import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// Every `caulk` command that calls the API, run as viewer, operator, operator with exec, and
/// admin, and as a token limited to another cluster: below the command's right it is refused
/// with the server's 403 and what is needed; at or above it, never refused. Names that do not
/// exist keep the allowed callers from changing anything (they get a 404 or 400 at worst).
@Suite struct CLIRoleTests {
    enum Right: Int, Comparable {
        case viewer, `operator`, exec, admin
        static func < (lhs: Right, rhs: Right) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Each command that calls the API, with arguments, and the right it needs.
    static let commands: [(command: [String], right: Right)] = [
        (["clusters", "list"], .viewer), (["clusters", "get", "nosuch"], .viewer),
        (["clusters", "add", "nosuch", "--api-endpoint", "not-a-url"], .admin), (["clusters", "set", "nosuch", "--pod-cidr", "198.19.0.0/16"], .admin),
        (["clusters", "rm", "nosuch"], .admin),
        (["nodes", "list"], .viewer), (["nodes", "get", "nosuch", "n1"], .viewer),
        (["nodes", "add", "nosuch", "n1", "--address", "198.18.0.1"], .admin), (["nodes", "set", "nosuch", "n1", "--address", "198.18.0.2"], .admin),
        (["nodes", "rm", "nosuch", "n1"], .admin), (["nodes", "trust", "nosuch"], .admin),
        (["inventory", "import", "-"], .admin),
        (["exec", "nosuch", "--", "true"], .exec),
        (["audit", "nosuch", "--no-wait"], .operator), (["repair", "nosuch", "--no-wait"], .operator),
        (["auto-repair", "show", "nosuch"], .viewer), (["auto-repair", "set", "nosuch", "--on"], .admin), (["auto-repair", "log"], .viewer),
        (["health", "nosuch"], .viewer), (["reboots"], .viewer), (["report", "reboots"], .viewer),
        (["schedules", "add", "s1", "--cron", "@daily", "--cluster", "nosuch"], .operator), (["schedules", "list"], .viewer),
        (["schedules", "rm", "nosuch"], .operator), (["schedules", "pause", "nosuch"], .operator), (["schedules", "resume", "nosuch"], .operator),
        (["beacon", "install", "nosuch", "--node-url", "http://127.0.0.1:9"], .admin), (["beacon", "revoke", "nosuch"], .admin),
        (["playbooks"], .viewer),
        (["runs", "list"], .viewer), (["runs", "show", "999"], .viewer), (["runs", "watch", "999"], .viewer), (["runs", "cancel", "999"], .operator),
        (["tokens", "create", "nosuch", "--role", "viewer", "--ttl", "1m"], .admin), (["tokens", "list"], .admin), (["tokens", "revoke", "nosuch"], .admin),
        (["activity"], .admin),
        (["notify", "add", "nosuch", "--to", "ftp://198.18.0.1/", "--on", "reboot"], .admin), (["notify", "list"], .admin),
        (["notify", "remove", "nosuch"], .admin), (["notify", "test", "nosuch"], .admin), (["notify", "log"], .admin),
        (["admin", "purge", "--dry-run"], .admin),
        (["whoami"], .viewer),
    ]

    /// Commands that do not call the API as a token holder: the server itself, saving a login.
    static let local: Set<String> = ["serve", "login"]

    @Test func everyCommandRefusesWhoLacksItsRightAndServesWhoHasIt() async throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        func token(_ name: String, _ arguments: [String]) throws -> String {
            let result = try server.caulk(["tokens", "create", name] + arguments + ["-o", "json"], token: admin)
            return try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        }
        let tokens: [(String, Right, String)] = [
            ("viewer", .viewer, try token("v", ["--role", "viewer"])), ("operator", .operator, try token("o", ["--role", "operator"])),
            ("exec", .exec, try token("x", ["--role", "operator", "--exec"])), ("admin", .admin, admin),
        ]

        // The table names every command there is (from --help), and nothing else.
        let leaves = try Self.leaves([], server: server)
        let covered = Set(Self.commands.map { Self.path($0.command, in: leaves) })
        let wanted = Set(leaves.filter { !Self.local.contains($0.joined(separator: " ")) })
        #expect(covered == wanted, "missing: \(wanted.subtracting(covered).sorted { $0.lexicographicallyPrecedes($1) }), not commands: \(covered.subtracting(wanted))")

        for (command, needs) in Self.commands {
            for (name, right, secret) in tokens {
                let result = try server.caulk(command, token: secret, input: Data())
                let refused = result.stderr.contains("HTTP 403")
                if right < needs {
                    #expect(refused && result.status == 1, "\(name): caulk \(command.joined(separator: " ")): \(result.status) \(result.stderr)")
                } else {
                    #expect(!refused && !result.stderr.contains("HTTP 401"), "\(name): caulk \(command.joined(separator: " ")): \(result.stderr)")
                }
            }
        }
    }

    /// A token limited to cluster `mine` runs every command that names a cluster on it, and is
    /// refused with 403 on `theirs`.
    @Test func aLimitedTokenIsRefusedOnEveryOtherCluster() throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        for cluster in ["mine", "theirs"] {
            #expect(try server.caulk(["clusters", "add", cluster, "--api-endpoint", "https://198.18.9.1:6443"], token: admin).status == 0)
        }
        let created = try server.caulk(["tokens", "create", "team", "--role", "operator", "--exec", "--clusters", "mine", "-o", "json"], token: admin)
        let limited = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(created.stdout.utf8)).secret
        let commands: [[String]] = [
            ["clusters", "get", "C"], ["nodes", "list", "--cluster", "C"], ["health", "C"], ["reboots", "--cluster", "C"],
            ["runs", "list", "--cluster", "C"], ["report", "reboots", "--cluster", "C"], ["auto-repair", "show", "C"], ["auto-repair", "log", "--cluster", "C"],
            ["audit", "C", "--no-wait"], ["repair", "C", "--dry-run", "--no-wait"], ["exec", "C", "--", "true"],
            ["schedules", "add", "s-C", "--cron", "@daily", "--cluster", "C"],
        ]
        for command in commands {
            for (cluster, reached) in [("mine", true), ("theirs", false)] {
                let arguments = command.map { $0 == "C" ? cluster : $0.replacingOccurrences(of: "-C", with: "-\(cluster)") }
                let result = try server.caulk(arguments, token: limited)
                let refused = result.stderr.contains("HTTP 403") && result.stderr.contains("reaches only cluster(s) mine")
                #expect(refused != reached, "caulk \(arguments.joined(separator: " ")): \(result.status) \(result.stderr)")
            }
        }
        // Lists are the scope's only.
        let clusters = try server.caulk(["clusters", "list", "-o", "json"], token: limited)
        #expect(try JSONCoding.decoder().decode([Cluster].self, from: Data(clusters.stdout.utf8)).map(\.name) == ["mine"])
    }

    /// Every command path that has no subcommands, from `caulk [PATH] --help`.
    static func leaves(_ path: [String], server: LiveServer) throws -> [[String]] {
        let help = try server.caulk(path + ["--help"], token: nil).stdout
        guard let section = help.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return [path] }
        var names: [String] = []
        for line in section.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") && !line.hasPrefix("  See ") {
            let name = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map { String($0).replacingOccurrences(of: ",", with: "") }
            if let name, !name.isEmpty, name.first!.isLetter { names.append(name) }
        }
        return try names.flatMap { try leaves(path + [$0], server: server) }
    }

    /// The command path a table entry runs: the longest leaf it starts with.
    static func path(_ command: [String], in leaves: [[String]]) -> [String] {
        leaves.filter { command.starts(with: $0) }.max { $0.count < $1.count } ?? command
    }
}
