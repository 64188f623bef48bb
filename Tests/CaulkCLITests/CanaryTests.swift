import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// Secrets planted in a full run never come back out: an encrypted private key and its
/// passphrase, API tokens, and the node tokens the boot beacon installs. After import, audit,
/// exec, beacon install, repair and every listing, none of them appears in the server's log (at
/// trace level), the database files, any API response or CLI output, or the runs' stored output.
@Suite(.serialized) struct CanaryTests {
    static let cluster = "lab4"

    @Test func plantedSecretsNeverAppearInLogsDatabaseResponsesOrRunOutput() throws {
        let server = try LiveServer()
        let passphrase = "canary-pass-\(UUID().uuidString)"
        let key = server.directory.appending(path: "id_canary").path
        try Command.shell("ssh-keygen -q -t ed25519 -N '\(passphrase)' -C canary -f '\(key)'")
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let keyBody = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }
        var canaries = ["passphrase": passphrase, "private key": String(keyBody[1].prefix(40)), "private key (last line)": String(keyBody.last!.prefix(30))]

        try server.start(listen: "198.18.0.1:0", arguments: ["--insecure-http"], environment: ["LOG_LEVEL": "trace", "CAULK_SSH_KEY_PASSPHRASE": passphrase])
        canaries["admin token"] = server.adminToken
        var seen: [String] = []
        func caulk(_ arguments: [String], token: String, expect: Set<Int32> = [0]) throws -> String {
            let result = try server.caulk(arguments, token: token)
            seen += [result.stdout, result.stderr]
            #expect(expect.contains(result.status), "caulk \(arguments.joined(separator: " ")): exit \(result.status)\n\(result.stderr)")
            return result.stdout
        }
        try server.importLab()

        // The cluster's nodes accept the encrypted key (lab nodes logging in as root share one
        // authorized_keys file); caulk logs in with it from now on.
        let nodes = try JSONCoding.decoder().decode([Node].self, from: Data(try caulk(["nodes", "list", "--cluster", Self.cluster, "-o", "json"], token: server.adminToken).utf8))
        let authorized = URL(fileURLWithPath: "/run/caulk-lab/authorized_keys")
        let original = try String(contentsOf: authorized, encoding: .utf8)
        try (original + publicKey + "\n").write(to: authorized, atomically: false, encoding: .utf8)
        defer { try? original.write(to: authorized, atomically: false, encoding: .utf8) }
        _ = try caulk(["clusters", "set", Self.cluster, "--ssh-key", key], token: server.adminToken)

        let created = try JSONCoding.decoder().decode(
            CreatedToken.self, from: Data(try caulk(["tokens", "create", "canary-operator", "--role", "operator", "--exec", "-o", "json"], token: server.adminToken).utf8))
        canaries["operator token"] = created.secret
        seen.removeLast(2)  // the answer that creates a token carries its secret, once, by design
        let operatorToken = created.secret

        _ = try caulk(["audit", Self.cluster, "-o", "json"], token: operatorToken, expect: [0, 3])
        let exec = try caulk(["exec", Self.cluster, "-o", "json", "--", "hostname"], token: operatorToken)
        #expect(nodes.allSatisfy { exec.contains($0.name) }, "exec logged in with the encrypted key on every node")
        _ = try caulk(["beacon", "install", Self.cluster, "--node-url", server.url, "-o", "json"], token: server.adminToken)
        for node in nodes {
            let token = try LabFleet.ssh(node.address, "cat /etc/caulk/beacon.token")
            try #require(token.status == 0 && token.stdout.hasPrefix("caulk_"), "no beacon token on \(node.name): \(token.stdout) \(token.stderr)")
            canaries["node token of \(node.name)"] = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try caulk(["repair", Self.cluster, "-o", "json"], token: operatorToken, expect: [0, 1, 3])

        // Everything a user or an attacker with read access could see.
        let runs = try JSONCoding.decoder().decode([Run].self, from: Data(try caulk(["runs", "list", "-o", "json", "--limit", "200"], token: operatorToken).utf8))
        for run in runs { _ = try caulk(["runs", "show", String(run.id), "-o", "json"], token: operatorToken) }
        for listing in [["tokens", "list", "-o", "json"], ["reboots", "-o", "json"], ["health", Self.cluster, "-o", "json"], ["clusters", "list", "-o", "json"],
                        ["nodes", "list", "--cluster", Self.cluster, "-o", "json"], ["auto-repair", "log", "-o", "json"], ["schedules", "list", "-o", "json"]] {
            _ = try caulk(listing, token: server.adminToken, expect: [0, 3])
        }
        server.stop()

        var places: [(String, Data)] = seen.enumerated().map { ("CLI output \($0.offset)", Data($0.element.utf8)) }
        for log in server.logs { places.append(("server log \(log.lastPathComponent)", try Data(contentsOf: log))) }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: server.database + suffix) {
            places.append(("database file caulk.db\(suffix)", try Data(contentsOf: URL(fileURLWithPath: server.database + suffix))))
        }
        #expect(runs.count >= 4 && places.count > 20, "the run produced what is searched")
        #expect(places.filter { $0.0.hasPrefix("server log") }.map(\.1.count).reduce(0, +) > 1000, "the server logged at trace level")
        for (what, canary) in canaries {
            for (place, bytes) in places {
                guard let found = bytes.range(of: Data(canary.utf8)) else { continue }
                let around = bytes[max(0, found.lowerBound - 300)..<min(bytes.count, found.upperBound + 100)]
                let context = String(decoding: around, as: UTF8.self).replacingOccurrences(of: canary, with: "<\(what)>")
                Issue.record("the \(what) appears in the \(place): …\(context)…")
            }
        }
    }
}
