import CaulkAPI
import CaulkStore
import CaulkTestSupport
import Foundation
import GRDB
import Testing

/// The `caulk` binary against a live `caulk serve`, over a real socket and a real SQLite file.
@Suite(.serialized) struct CLITests {
    @Test func firstStartCreatesTheDatabaseAndAnAdminToken() throws {
        let server = try LiveServer()
        try server.start()
        #expect(FileManager.default.fileExists(atPath: server.database))
        #expect(server.adminToken.hasPrefix("caulk_"))
        let attributes = try FileManager.default.attributesOfItem(atPath: server.directory.appending(path: "admin.token").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let whoami = try server.caulk(["whoami"], token: server.adminToken)
        #expect(whoami.status == 0)
        #expect(whoami.stdout.contains("admin"))
        // a restart on the same database creates no second token
        server.stop()
        try server.start()
        let tokens = try server.caulk(["tokens", "list", "-o", "json"], token: try Self.token(server))
        #expect(try JSONCoding.decoder().decode([TokenInfo].self, from: Data(tokens.stdout.utf8)).count == 1)
    }

    /// `caulk report` reads the history the server keeps; -o csv is RFC 4180 (quoted where a
    /// field needs it, CRLF line ends, one header row).
    @Test func reportsAsATableAndAsCSV() throws {
        let server = try LiveServer()
        try server.start()
        _ = try server.caulk(["clusters", "add", "prod-a", "--api-endpoint", "https://198.18.1.1:6443"], token: server.adminToken)
        _ = try server.caulk(["nodes", "add", "prod-a", "cp1", "--address", "198.18.1.1"], token: server.adminToken)
        // History as audits leave it: a node audited on an odd kernel string, then its reboot; a
        // later audit finds the node faulty. Written while the service is stopped, as an older
        // caulk would have left it: the service works it into the report history as it starts.
        server.stop()
        let queue = try DatabaseQueue(path: server.database)
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO runs (id, kind, cluster_name, status, trigger, requester, host_count, started_at, finished_at)
                VALUES (1, 'audit', 'prod-a', 'succeeded', 'cli', 'test', 1, datetime('now', '-1 day'), datetime('now', '-1 day'));
                INSERT INTO audit_nodes (run_id, node_name, health, kernel, calico_version, encapsulation, finished_at)
                VALUES (1, 'cp1', 'healthy', '5.14.0, "rt"', '3.27.3', 'vxlan', datetime('now', '-1 day'));
                INSERT INTO reboot_events (cluster_name, node_name, new_boot_id, seen_at, source, run_id)
                VALUES ('prod-a', 'cp1', 'b1', datetime('now', '-1 day'), 'audit', 1);
                INSERT INTO runs (id, kind, cluster_name, status, trigger, requester, host_count, started_at, finished_at)
                VALUES (2, 'audit', 'prod-a', 'succeeded', 'schedule', 'test', 1, datetime('now', '-20 hours'), datetime('now', '-20 hours'));
                INSERT INTO audit_nodes (run_id, node_id, node_name, health, finished_at)
                VALUES (2, (SELECT id FROM nodes WHERE name = 'cp1'), 'cp1', 'broken', datetime('now', '-20 hours'));
                INSERT INTO findings (run_id, cluster_name, node_name, check_id, severity, message, created_at)
                VALUES (2, 'prod-a', 'cp1', 'F4', 'critical', 'UDP 4789 dropped', datetime('now', '-20 hours'));
                """)
        }
        try queue.close()
        try server.start()
        let viewer = try Self.token(server)
        var result = try server.caulk(["report", "reboots", "--group-by", "kernel", "-o", "csv"], token: viewer)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "kernel,reboots,nodes,clusters\r\n\"5.14.0, \"\"rt\"\"\",1,1,1\r\n")
        result = try server.caulk(["report", "reboots", "--since", "2d", "--cluster", "prod-a"], token: viewer)
        #expect(result.status == 0 && result.stdout.contains("CLUSTER  REBOOTS  NODES  CLUSTERS") && result.stdout.contains("prod-a   1"), "\(result.stdout)")
        result = try server.caulk(["report", "reboots", "--group-by", "playbook"], token: viewer)
        #expect(result.status == 1 && result.stderr.contains("reboots cannot be grouped by playbook"), "\(result.stderr)")
        result = try server.caulk(["report", "uptime"], token: viewer)
        #expect(result.status == 2 && result.stderr.contains("- risk"), "\(result.stderr)")
        // A node faulty since its last audit and not recovered: counted, and listed apart.
        result = try server.caulk(["report", "mttr", "--since", "2d"], token: viewer)
        #expect(result.status == 0 && result.stdout.contains("not recovered:") && result.stdout.contains("prod-a   cp1"), "\(result.stdout)")
        #expect(result.stdout.contains("F4"))
        result = try server.caulk(["admin", "purge", "--dry-run"], token: server.adminToken)
        #expect(result.status == 0 && result.stdout.contains("WOULD GO") && result.stdout.contains("output    90d"), "\(result.stdout)")
    }

    @Test func clusterAndNodeRoundTrips() throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        var result = try server.caulk(["clusters", "add", "prod-a", "--api-endpoint", "https://198.18.1.1:6443", "--pod-cidr", "198.19.0.0/16"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("prod-a"))
        result = try server.caulk(["nodes", "add", "prod-a", "cp1", "--address", "198.18.1.1", "--role", "control-plane", "--label", "zone=a"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        result = try server.caulk(["nodes", "add", "prod-a", "w1", "--address", "198.18.1.2", "--label", "zone=b"], token: admin)
        #expect(result.status == 0)

        result = try server.caulk(["clusters", "list", "-o", "json"], token: admin)
        let clusters = try JSONCoding.decoder().decode([Cluster].self, from: Data(result.stdout.utf8))
        #expect(clusters.map(\.name) == ["prod-a"] && clusters[0].nodeCount == 2)

        result = try server.caulk(["nodes", "list", "--label", "zone=b", "-o", "json"], token: admin)
        #expect(try JSONCoding.decoder().decode([Node].self, from: Data(result.stdout.utf8)).map(\.name) == ["w1"])

        result = try server.caulk(["nodes", "get", "prod-a", "cp1", "-o", "yaml"], token: admin)
        #expect(result.stdout.contains("role: control-plane"))

        result = try server.caulk(["clusters", "get", "prod-a"], token: admin)
        #expect(result.stdout.hasPrefix("NAME"))

        result = try server.caulk(["clusters", "rm", "prod-a"], token: admin)
        #expect(result.status == 1)
        #expect(result.stderr.contains("--cascade"))
        result = try server.caulk(["clusters", "rm", "prod-a", "--cascade"], token: admin)
        #expect(result.status == 0)
        result = try server.caulk(["clusters", "get", "prod-a"], token: admin)
        #expect(result.status == 1)
        #expect(result.stderr.contains("no cluster named prod-a"))
    }

    @Test func exitCodesAndServerMessages() throws {
        let server = try LiveServer()
        try server.start()
        var result = try server.caulk(["clusters", "list"], token: nil)
        #expect(result.status == 1)
        #expect(result.stderr.contains("no bearer token"))
        result = try server.caulk(["clusters", "lisst"], token: server.adminToken)
        #expect(result.status == 2)
        result = try server.caulk(["nodes", "list", "--role", "boss"], token: server.adminToken)
        #expect(result.status == 2)
        result = try server.caulk(["clusters", "add", "a;rm -rf /", "--api-endpoint", "https://198.18.1.1:6443"], token: server.adminToken)
        #expect(result.status == 1)
        #expect(result.stderr.contains("name:") && result.stderr.contains("DNS-1123") && result.stderr.contains("HTTP 400"))

        result = try server.caulk(["tokens", "create", "dash", "--role", "viewer", "-o", "json"], token: server.adminToken)
        let viewer = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["clusters", "add", "b", "--api-endpoint", "https://198.18.1.1:6443"], token: viewer)
        #expect(result.status == 1)
        #expect(result.stderr.contains("role viewer") && result.stderr.contains("HTTP 403"))
        // Audits and repairs do not make a shell on every node: exec is granted apart.
        result = try server.caulk(["tokens", "create", "ops", "--role", "operator", "--ttl", "12h", "-o", "json"], token: server.adminToken)
        let ops = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8))
        #expect(!ops.token.exec && ops.token.expiresAt.map { abs($0.timeIntervalSinceNow - 43_200) < 120 } == true)
        result = try server.caulk(["exec", "b", "--", "hostname"], token: ops.secret)
        #expect(result.status == 1)
        #expect(result.stderr.contains("--exec") && result.stderr.contains("HTTP 403"), "\(result.stderr)")
        result = try server.caulk(["tokens", "create", "later", "--role", "operator", "--ttl", "3y"], token: server.adminToken)
        #expect(result.status == 2 && result.stderr.contains("90m, 12h, 30d or 8w"), "\(result.stderr)")
        result = try server.caulk(["tokens", "create", "shell", "--role", "viewer", "--exec"], token: server.adminToken)
        #expect(result.status == 1 && result.stderr.contains("exec:"), "\(result.stderr)")
        result = try server.caulk(["tokens", "list"], token: server.adminToken)
        #expect(result.stdout.contains("EXEC") && result.stdout.contains("EXPIRES"))
        result = try server.caulk(["whoami"], token: ops.secret)
        #expect(result.stdout.contains("ops") && result.stdout.contains("no"))

        result = try server.caulk(["--help"], token: nil)
        #expect(result.status == 0 && result.stdout.contains("serve"))

        result = try server.caulk(["whoami"], token: server.adminToken, environment: ["CAULK_URL": "http://127.0.0.1:1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot reach caulk"))
    }

    @Test func aTokenLimitedToAClusterSeesOnlyIt() throws {
        let server = try LiveServer()
        try server.start()
        for name in ["x", "y"] {
            #expect(try server.caulk(["clusters", "add", name, "--api-endpoint", "https://198.18.1.1:6443"], token: server.adminToken).status == 0)
        }
        var result = try server.caulk(["tokens", "create", "team-x", "--role", "viewer", "--clusters", "x", "-o", "json"], token: server.adminToken)
        let limited = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8))
        #expect(limited.token.clusters == ["x"])
        result = try server.caulk(["clusters", "list", "-o", "json"], token: limited.secret)
        #expect(try JSONCoding.decoder().decode([Cluster].self, from: Data(result.stdout.utf8)).map(\.name) == ["x"])
        result = try server.caulk(["clusters", "get", "y"], token: limited.secret)
        #expect(result.status == 1 && result.stderr.contains("reaches only cluster(s) x") && result.stderr.contains("HTTP 403"), "\(result.stderr)")
        result = try server.caulk(["whoami"], token: limited.secret)
        #expect(result.stdout.contains("CLUSTERS") && result.stdout.contains("team-x"))
        result = try server.caulk(["tokens", "create", "wide", "--role", "admin", "--clusters", "x"], token: server.adminToken)
        #expect(result.status == 1 && result.stderr.contains("clusters:"), "\(result.stderr)")
        result = try server.caulk(["activity", "--action", "token.create", "-o", "json"], token: server.adminToken)
        let entries = try JSONCoding.decoder().decode([Activity].self, from: Data(result.stdout.utf8))
        #expect(entries.first?.target == "team-x" && entries.first?.actor == "admin" && entries.first?.after?["clusters"] == #"["x"]"#)
    }

    /// `caulk notify` against `caulk serve --notify-hold`: usage errors say what to write, a test
    /// is queued but not sent (and says why it may not have been), removing the webhook fails it.
    @Test func notificationsHeldByTheServerAreQueuedNotSent() throws {
        let server = try LiveServer()
        try server.start(arguments: ["--notify-hold"])
        let admin = server.adminToken
        let receiver = try WebhookReceiver()
        var result = try server.caulk(["notify", "add", "ops", "--to", receiver.url, "--on", "reboot,nonsense"], token: admin)
        #expect(result.status == 2 && result.stderr.contains("'nonsense' is not an event"), "\(result.stderr)")
        result = try server.caulk(["notify", "add", "ops", "--to", "ftp://198.18.0.1/", "--on", "reboot"], token: admin)
        #expect(result.status == 1 && result.stderr.contains("url:") && result.stderr.contains("HTTP 400"), "\(result.stderr)")
        result = try server.caulk(["notify", "add", "ops", "--to", receiver.url + "/hook", "--on", "reboot"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("ops"), "\(result.stderr)")
        result = try server.caulk(["notify", "test", "ops", "--wait", "2"], token: admin)
        #expect(result.status == 1 && result.stderr.contains("notify_hold"), "\(result.stderr)")
        result = try server.caulk(["notify", "log", "-o", "json"], token: admin)
        var log = try JSONCoding.decoder().decode([Delivery].self, from: Data(result.stdout.utf8))
        #expect(log.count == 1 && log[0].status == .pending && log[0].attempts == 0 && log[0].event == .test)
        #expect(try server.caulk(["notify", "rm", "ops"], token: admin).status == 0)
        result = try server.caulk(["notify", "log", "-o", "json"], token: admin)
        log = try JSONCoding.decoder().decode([Delivery].self, from: Data(result.stdout.utf8))
        #expect(log.first?.status == .failed && log.first?.lastError?.contains("removed") == true)
        let logged = server.logs.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }.joined()
        #expect(receiver.requests().isEmpty && logged.contains("notifications are held"), "\(logged)")
        result = try server.caulk(["tokens", "create", "watcher", "--role", "operator", "-o", "json"], token: admin)
        let operatorToken = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["notify", "list"], token: operatorToken)
        #expect(result.status == 1 && result.stderr.contains("HTTP 403"), "\(result.stderr)")
    }

    /// What is queued is in the database: a server killed with deliveries held sends them once
    /// started again (on the same database, without the hold).
    @Test func queuedDeliveriesSurviveAKillAndGoOutAfterTheRestart() async throws {
        let server = try LiveServer()
        try server.start(arguments: ["--notify-hold"])
        let admin = server.adminToken
        let receiver = try WebhookReceiver()
        #expect(try server.caulk(["notify", "add", "ops", "--to", receiver.url + "/hook", "--on", "reboot"], token: admin).status == 0)
        #expect(try server.caulk(["notify", "test", "ops", "--wait", "0"], token: admin).status == 1)
        server.kill()
        try server.start()
        let got = try await receiver.wait(for: 1)
        #expect(got.count == 1 && got[0].headers["x-caulk-event"] == "test" && got[0].body.contains("a test of webhook ops"), "\(got)")
        let result = try server.caulk(["notify", "log", "-o", "json"], token: admin)
        #expect(try JSONCoding.decoder().decode([Delivery].self, from: Data(result.stdout.utf8)).map(\.status) == [.delivered])
    }

    @Test func importIsIdempotentAndRefusesABadFileNamingTheLine() throws {
        let server = try LiveServer()
        try server.start()
        let file = server.directory.appending(path: "fleet.yaml")
        try Fleet.caulkYAML(clusters: 10, nodesPerCluster: 20).write(to: file, atomically: true, encoding: .utf8)
        var result = try server.caulk(["inventory", "import", file.path], token: server.adminToken)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("nodes 200 created"))
        result = try server.caulk(["inventory", "import", file.path], token: server.adminToken)
        #expect(result.stdout.contains("no changes: 10 cluster(s), 200 node(s) already up to date"))

        let ini = server.directory.appending(path: "fleet.ini")
        try Fleet.ansibleINI(clusters: 10, nodesPerCluster: 20).write(to: ini, atomically: true, encoding: .utf8)
        result = try server.caulk(["inventory", "import", ini.path], token: server.adminToken)
        #expect(result.stdout.contains("no changes"), "the INI file describes the same fleet: \(result.stdout) \(result.stderr)")

        let broken = server.directory.appending(path: "broken.ini")
        try (Fleet.ansibleINI(clusters: 1, nodesPerCluster: 3) + "lab9-n4 ansible_host=198.18.300.1\n").write(to: broken, atomically: true, encoding: .utf8)
        result = try server.caulk(["inventory", "import", broken.path], token: server.adminToken)
        #expect(result.status == 1)
        #expect(result.stderr.contains("line"), "\(result.stderr)")
        #expect(result.stderr.contains("ansible_host"))
        result = try server.caulk(["nodes", "list", "-o", "json"], token: server.adminToken)
        #expect(try JSONCoding.decoder().decode([Node].self, from: Data(result.stdout.utf8)).count == 200)

        result = try server.caulk(["inventory", "import", "-", "--format", "caulk", "--dry-run"], token: server.adminToken, input: Data(Fleet.caulkYAML(clusters: 11, nodesPerCluster: 20).utf8))
        #expect(result.stdout.contains("would change"))
    }

    @Test func localTokenCreationRecoversAccess() throws {
        let server = try LiveServer()
        try server.start()
        let result = try server.caulk(["tokens", "create", "rescue", "--role", "admin", "--local", "--database", server.database, "-o", "json"], token: nil)
        #expect(result.status == 0, "\(result.stderr)")
        let secret = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        #expect(try server.caulk(["whoami"], token: secret).stdout.contains("rescue"))
    }

    /// A second server on the same database is refused before it touches anything, so it
    /// cannot mark the first one's runs interrupted; a crash leaves no lock behind.
    @Test func oneServerPerDatabaseAndACrashLeavesNoLock() throws {
        let server = try LiveServer()
        try server.start()
        let second = try server.caulk(["serve", "--listen", "127.0.0.1:0", "--database", server.database], token: nil)
        #expect(second.status == 1, "\(second.stdout) \(second.stderr)")
        #expect(second.stderr.contains("is already served by another caulk serve (process \(server.process!.processIdentifier))"), "\(second.stderr)")
        #expect(try server.caulk(["whoami"], token: server.adminToken).status == 0, "the first server is untouched")
        server.kill()
        try server.start()
        #expect(try server.caulk(["whoami"], token: server.adminToken).status == 0)
    }

    @Test func loginSavesURLAndTokenForLaterCommands() throws {
        let server = try LiveServer()
        try server.start()
        let config = server.directory.appending(path: "cfg/caulk/config.yaml").path
        let env = ["XDG_CONFIG_HOME": server.directory.appending(path: "cfg").path]
        var result = try server.caulk(["login", "--url", server.url, "--token", server.adminToken], token: nil, environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: config)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        result = try server.caulk(["whoami"], token: nil, environment: env.merging(["CAULK_URL": ""]) { _, new in new })
        #expect(result.status == 0 && result.stdout.contains("admin"), "\(result.stderr)")
    }

    /// `kill -9` in the middle of a bulk import: the database stays intact and the import is
    /// either wholly there or wholly absent. One full import is timed first, so the kills land
    /// around the moment its transaction writes.
    @Test func killDuringImportLeavesAllOrNothing() throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        let file = server.directory.appending(path: "big.yaml")
        let (clusters, perCluster) = (40, 500)
        try Fleet.caulkYAML(clusters: clusters, nodesPerCluster: perCluster).write(to: file, atomically: true, encoding: .utf8)

        let started = Date()
        let full = try server.caulk(["inventory", "import", file.path], token: admin)
        let duration = Date().timeIntervalSince(started)
        #expect(full.status == 0, "\(full.stderr)")
        try Self.removeAll(server)

        var outcomes: [String] = []
        for fraction in [0.5, 0.8, 0.9, 0.97, 1.05] {
            let importer = try server.launch(["inventory", "import", file.path], token: admin)
            Thread.sleep(forTimeInterval: duration * fraction)
            server.kill()
            importer.waitUntilExit()
            let store = try Store.open(path: server.database)
            let (integrity, nodes, clusterCount) = try store.writer.read { db in
                (try String.fetchOne(db, sql: "PRAGMA integrity_check"), try Int.fetchOne(db, sql: "SELECT count(*) FROM nodes")!,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters")!)
            }
            #expect(integrity == "ok")
            #expect(nodes == 0 || nodes == clusters * perCluster, "partial import: \(nodes) nodes")
            #expect(clusterCount == 0 || clusterCount == clusters)
            outcomes.append("\(fraction)×: \(nodes == 0 ? "absent" : "present")")
            try server.start()
            if nodes > 0 { try Self.removeAll(server) }
        }
        // Which side of the commit each kill landed on depends on the machine; both are correct.
        print("kill -9 during a \(clusters * perCluster)-node import taking \(String(format: "%.2f", duration)) s: \(outcomes.joined(separator: ", "))")
    }

    private static func removeAll(_ server: LiveServer) throws {
        let store = try Store.open(path: server.database)
        try store.writer.write { db in try db.execute(sql: "DELETE FROM clusters") }
    }

    static func token(_ server: LiveServer) throws -> String {
        try String(contentsOf: server.directory.appending(path: "admin.token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Inventory files for a lab-like fleet: cluster `labK`, nodes `labK-nJ` at 198.18.K.J.
enum Fleet {
    static func caulkYAML(clusters: Int, nodesPerCluster: Int) -> String {
        var text = "clusters:\n"
        for c in 1...clusters {
            text += "  - name: lab\(c)\n    api_endpoint: https://198.18.\(c % 256).1:6443\n    pod_cidr: 198.19.0.0/16\n"
            text += "    ssh: {user: root, key: /etc/caulk/id_ed25519}\n    nodes:\n"
            for n in 1...nodesPerCluster {
                text += "      - {name: lab\(c)-n\(n), address: 198.18.\(c % 256).\(n % 256), role: \(n == 1 ? "control-plane" : "worker"), labels: {lab: \"true\"}}\n"
            }
        }
        return text
    }

    static func ansibleINI(clusters: Int, nodesPerCluster: Int) -> String {
        var text = "[all:vars]\nansible_user=root\nansible_ssh_private_key_file=/etc/caulk/id_ed25519\ncaulk_pod_cidr=198.19.0.0/16\ncaulk_labels=lab=true\n\n"
        for c in 1...clusters {
            text += "[lab\(c):children]\nlab\(c)_control_plane\n\n[lab\(c)_control_plane]\nlab\(c)-n1 ansible_host=198.18.\(c % 256).1\n\n[lab\(c)]\n"
            for n in 2...max(2, nodesPerCluster) where n <= nodesPerCluster {
                text += "lab\(c)-n\(n) ansible_host=198.18.\(c % 256).\(n % 256)\n"
            }
            text += "\n"
        }
        return text
    }
}

/// `caulk exec`, `caulk runs` and `caulk nodes trust` through a live server, on the lab fleet.
@Suite(.serialized) struct ExecCLITests {
    @Test func execStreamsPerNodeResultsAndRecordsTheRun() throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        try server.importLab()

        var result = try server.caulk(["exec", "lab1", "--", "hostname"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        let nodes = try JSONCoding.decoder().decode([Node].self, from: Data(try server.caulk(["nodes", "list", "--cluster", "lab1", "-o", "json"], token: admin).stdout.utf8))
        for node in nodes {
            #expect(result.stdout.contains("\(node.name)  ") && result.stdout.contains("exit 0"), "\(node.name) missing from \(result.stdout)")
        }
        #expect(result.stdout.contains("succeeded: \(nodes.count) node(s): \(nodes.count) ok"))

        result = try server.caulk(["exec", "lab1", "--role", "worker", "-o", "json", "--", "exit 4"], token: admin)
        #expect(result.status == 1)
        let detail = try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8))
        #expect(detail.run.status == .failed && detail.hosts.allSatisfy { $0.exitStatus == 4 })
        #expect(detail.run.trigger == .cli && detail.run.requester == "admin")

        result = try server.caulk(["runs", "show", String(detail.run.id), "-o", "json"], token: admin)
        #expect(try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8)).hosts.count == detail.hosts.count)
        #expect(try server.caulk(["runs", "list"], token: admin).stdout.contains("exit 4"))

        result = try server.caulk(["tokens", "create", "dash", "--role", "viewer", "-o", "json"], token: admin)
        let viewer = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["exec", "lab1", "--", "hostname"], token: viewer)
        #expect(result.status == 1 && result.stderr.contains("needs operator"))
        result = try server.caulk(["exec", "lab1", "--nodes", "nope", "--", "hostname"], token: admin)
        #expect(result.status == 1 && result.stderr.contains("nodes"))

        result = try server.caulk(["nodes", "set", "lab1", nodes[1].name, "--host-key", ""], token: admin)
        result = try server.caulk(["nodes", "trust", "lab1"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(nodes[1].name) && result.stdout.contains(nodes[1].hostKey ?? "?"))

        // The key cleared by hand, then pinned again, both in the activity log.
        result = try server.caulk(["activity", "--action", "node", "-o", "json"], token: admin)
        let entries = try JSONCoding.decoder().decode([Activity].self, from: Data(result.stdout.utf8))
        #expect(entries.prefix(2).map(\.action) == ["node.trust", "node.update"], "\(result.stdout)")
        #expect(entries.first?.target == "lab1/\(nodes[1].name)" && entries.first?.after == ["host_key": nodes[1].hostKey ?? "?"])
        #expect(entries.first?.before == nil && entries.dropFirst().first?.before?["host_key"] == nodes[1].hostKey)
        result = try server.caulk(["activity", "--since", "1h"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("node.trust") && result.stdout.contains("inventory.import") && result.stdout.contains("run.start"))
    }
}
