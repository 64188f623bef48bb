import Foundation
import GRDB
import Testing

@testable import CaulkStore

@Suite struct StoreTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "caulk-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var path: String { directory.appending(path: "sub/dir/caulk.db").path }

    @Test func migrationFilesFollowTheNamingRule() throws {
        try Migrations.validate()
        #expect(Store.knownMigrations.first == "0001_inventory")
    }

    @Test func openCreatesTheFileWithWALForeignKeysAndTheSchema() async throws {
        let store = try Store.open(path: path)
        #expect(FileManager.default.fileExists(atPath: path))
        let (journal, foreignKeys, tables) = try await store.writer.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            )
        }
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
        #expect(tables.contains("clusters") && tables.contains("nodes") && tables.contains("tokens"))
        #expect(try await store.appliedMigrations() == Store.knownMigrations)
    }

    @Test func reopeningAppliesNothingTwice() async throws {
        _ = try Store.open(path: path)
        let store = try Store.open(path: path)
        let count = try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") }
        #expect(count == Store.knownMigrations.count)
    }

    @Test func aDatabaseFromANewerCaulkIsRefusedAndLeftAlone() async throws {
        let store = try Store.open(path: path)
        try await store.writer.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999_from_the_future')")
        }
        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["9999_from_the_future"])) {
            _ = try Store.open(path: path)
        }
        let message = StoreError.newerSchema(path: path, unknownMigrations: ["9999_from_the_future"]).description
        #expect(message.contains("newer caulk"))
    }

    @Test func deletingAClusterWithNodesNeedsCascade() async throws {
        let store = try Store.inMemory()
        let cluster = try await store.insert(Self.cluster("a"))
        _ = try await store.insert(Self.node("n1", clusterId: cluster.id!))
        #expect(try await store.deleteCluster(named: "a", cascade: false) == .hasNodes(1))
        #expect(try await store.deleteCluster(named: "a", cascade: true) == .deleted)
        #expect(try await store.nodes(limit: 10).isEmpty)
        #expect(try await store.deleteCluster(named: "a", cascade: true) == .notFound)
    }

    @Test func aFailingImportLeavesNothingBehind() async throws {
        let store = try Store.inMemory()
        var bad = Self.cluster("b")
        bad.encapsulation = "gre"  // violates the CHECK constraint, after cluster a was written
        let inventory = [
            InventoryCluster(cluster: Self.cluster("a"), nodes: [Self.node("n1", clusterId: 0)]),
            InventoryCluster(cluster: bad, nodes: []),
        ]
        await #expect(throws: DatabaseError.self) { _ = try await store.applyInventory(inventory, dryRun: false) }
        #expect(try await store.clusters(limit: 10).isEmpty)
        #expect(try await store.nodes(limit: 10).isEmpty)
    }

    @Test func runsLeftRunningByACrashBecomeInterruptedWithTheirHosts() async throws {
        let store = try Store.open(path: path)
        let run = try await store.insert(RunRecord(
            kind: "exec", clusterId: nil, clusterName: "a", trigger: "cli", requester: "me", command: "true",
            parameters: [:], hostCount: 2, startedAt: Date()))
        try await store.recordHost(RunHostRecord(
            runId: run.id!, nodeName: "n1", address: "198.18.0.2", outcome: "ok", exitStatus: 0, exitSignal: nil, stdout: "",
            stderr: "", stdoutTruncated: false, stderrTruncated: false, errorKind: nil, error: nil, hostKey: nil,
            durationMs: 5, finishedAt: Date()), nodeId: nil, seenAt: nil)
        // what a restart after kill -9 does
        let reopened = try Store.open(path: path)
        #expect(try await reopened.markInterruptedRuns(at: Date()) == 1)
        let (record, hosts) = try #require(try await reopened.run(id: run.id!))
        #expect(record.status == "interrupted" && record.finishedAt != nil)
        #expect(hosts.map(\.nodeName) == ["n1"])
        #expect(try await reopened.markInterruptedRuns(at: Date()) == 0)
    }

    @Test func aDryRunCountsButWritesNothing() async throws {
        let store = try Store.inMemory()
        let inventory = [InventoryCluster(cluster: Self.cluster("a"), nodes: [Self.node("n1", clusterId: 0), Self.node("n2", clusterId: 0)])]
        let counts = try await store.applyInventory(inventory, dryRun: true)
        #expect(counts.clusters == UpsertCounts(created: 1))
        #expect(counts.nodes == UpsertCounts(created: 2))
        #expect(try await store.clusters(limit: 10).isEmpty)
    }

    @Test func reportQueriesUseIndexes() async throws {
        let store = try Store.inMemory()
        let plans = try await store.writer.read { db in
            try [
                "SELECT * FROM nodes WHERE cluster_id = 1 AND id > 0 ORDER BY id",
                "SELECT * FROM nodes WHERE role = 'worker' AND id > 0 ORDER BY id",
                "SELECT * FROM tokens WHERE secret_hash = 'x' AND revoked_at IS NULL",
                "SELECT * FROM clusters WHERE name = 'a'",
                "SELECT * FROM runs WHERE cluster_name = 'a' AND id < 10 ORDER BY id DESC",
                "SELECT * FROM run_hosts WHERE run_id = 1 ORDER BY node_name",
                "SELECT * FROM runs WHERE status = 'running'",
            ].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        for plan in plans {
            #expect(plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"), "plan: \(plan)")
        }
    }

    static func cluster(_ name: String) -> ClusterRecord {
        ClusterRecord(
            name: name, apiEndpoint: "https://198.18.0.1:6443", podCidr: nil, encapsulation: "vxlan",
            calicoNamespace: "kube-system", sshUser: "root", sshPort: 22, sshKey: nil, bastion: nil,
            createdAt: Date(), updatedAt: Date())
    }

    static func node(_ name: String, clusterId: Int64) -> NodeRecord {
        NodeRecord(
            clusterId: clusterId, name: name, address: "198.18.0.2", role: "worker", labels: [:], sshUser: nil,
            sshPort: nil, sshKey: nil, bastion: nil, hostKey: nil, createdAt: Date(), updatedAt: Date())
    }
}
