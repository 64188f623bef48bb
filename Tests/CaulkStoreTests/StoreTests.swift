import CaulkAPI
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
        bad.sshPort = 70000  // violates the CHECK constraint, after cluster a was written
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
            kind: .exec, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: "true",
            parameters: [:], hostCount: 2, startedAt: Date()))
        try await store.recordHost(RunHostRecord(
            runId: run.id!, nodeName: "n1", address: "198.18.0.2", outcome: .ok, exitStatus: 0, exitSignal: nil, stdout: "",
            stderr: "", stdoutTruncated: false, stderrTruncated: false, errorKind: nil, error: nil, hostKey: nil,
            durationMs: 5, finishedAt: Date()), nodeId: nil, seenAt: nil)
        // what a restart after kill -9 does
        let reopened = try Store.open(path: path)
        #expect(try await reopened.markInterruptedRuns(at: Date()).runs.count == 1)
        let (record, hosts) = try #require(try await reopened.run(id: run.id!))
        #expect(record.status == .interrupted && record.finishedAt != nil)
        #expect(hosts.map(\.nodeName) == ["n1"])
        #expect(try await reopened.markInterruptedRuns(at: Date()).runs.count == 0)
    }

    @Test func beaconInstallsStoredAsRepairsBecomeTheirOwnKindKeepingTheirHosts() async throws {
        // A database as the release before left it: beacon installs were `repair` runs.
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: path)
        try Migrations.migrator().migrate(queue, upTo: "0005_become")
        try await queue.write { db in
            for (id, playbook) in [(1, "boot-beacon"), (2, "calico-recover")] {
                try db.execute(
                    sql: """
                        INSERT INTO runs (id, kind, cluster_name, status, trigger, requester, host_count, started_at, playbook)
                        VALUES (?, 'repair', 'a', 'succeeded', 'cli', 'me', 1, '2026-11-01 00:00:00.000', ?)
                        """,
                    arguments: [id, playbook])
            }
            try db.execute(sql: "UPDATE runs SET audit_before_id = 1 WHERE id = 2")
            try db.execute(
                sql: """
                    INSERT INTO run_hosts (run_id, node_name, address, outcome, duration_ms, finished_at)
                    VALUES (1, 'n1', '198.18.0.2', 'ok', 5, '2026-11-01 00:00:01.000')
                    """)
        }
        try queue.close()

        let store = try Store.open(path: path)
        #expect(try await store.appliedMigrations() == Store.knownMigrations)
        let (beacon, hosts) = try #require(try await store.run(id: 1))
        #expect(beacon.kind == .beaconInstall && hosts.map(\.nodeName) == ["n1"])
        let repair = try #require(try await store.runRecord(id: 2))
        #expect(repair.kind == .repair && repair.auditBeforeId == 1)
        #expect(try await store.runs(cluster: "a", kind: .repair, before: nil, limit: 10).map(\.id) == [2])
        // The hosts still belong to their run: deleting it takes them along.
        try await store.writer.write { db in try db.execute(sql: "DELETE FROM runs WHERE id = 1") }
        #expect(try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run_hosts") } == 0)
    }

    @Test func operatorTokensMadeBeforeExecWasARightKeepIt() async throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: path)
        try Migrations.migrator().migrate(queue, upTo: "0011_run_cancel")
        try await queue.write { db in
            for (id, role) in [(1, "viewer"), (2, "operator"), (3, "admin")] {
                try db.execute(
                    sql: "INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, '2026-11-01 00:00:00.000')",
                    arguments: [id, role, role, String(repeating: String(id), count: 64)])
            }
        }
        try queue.close()

        let store = try Store.open(path: path)
        let tokens = try await store.tokens(includeRevoked: false, limit: 10)
        #expect(tokens.map(\.mayExec) == [false, true, true])
        #expect(tokens.allSatisfy { $0.expiresAt == nil })
    }

    @Test func aStoredValueNoCaseNamesFailsTheReadInsteadOfBecomingADefault() async throws {
        let store = try Store.inMemory()
        let run = try await store.insert(RunRecord(
            kind: .exec, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: "true", parameters: [:], hostCount: 1,
            startedAt: Date()))
        // What a newer release, or a hand edit past the CHECK constraints, could leave behind.
        try await store.writer.write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "UPDATE runs SET status = 'paused' WHERE id = ?", arguments: [run.id!])
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        }
        await #expect(throws: (any Error).self) { _ = try await store.runRecord(id: run.id!) }
        await #expect(throws: (any Error).self) { _ = try await store.runs(cluster: nil, kind: nil, before: nil, limit: 10) }
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
                "SELECT * FROM runs WHERE kind = 'audit' AND cluster_name = 'a' AND status != 'running' ORDER BY id DESC",
                "SELECT * FROM audit_nodes WHERE run_id = 1 ORDER BY node_name",
                "SELECT * FROM findings WHERE run_id = 1",
                "SELECT * FROM findings WHERE check_id = 'F1' AND created_at > '2026'",
                "SELECT * FROM reboot_events WHERE cluster_name = 'a' AND seen_at > '2026'",
                "SELECT * FROM reboot_events WHERE seen_at > '2026'",
                "SELECT * FROM reboot_events WHERE node_id = 1 AND new_boot_id = 'x'",
                "SELECT * FROM schedules WHERE paused = 0 AND next_run_at <= '2026'",
                "SELECT * FROM repair_nodes WHERE run_id = 1 ORDER BY position",
                "SELECT * FROM repair_steps WHERE run_id = 1 ORDER BY id",
                "SELECT count(*) FROM runs WHERE cluster_name = 'a' AND kind = 'repair' AND trigger = 'auto' AND started_at >= '2026' AND dry_run = 0",
                "SELECT * FROM auto_repair_decisions WHERE decision = 'pending' AND due_at <= '2026' ORDER BY due_at",
                "SELECT * FROM auto_repair_decisions WHERE cluster_name = 'a' AND id < 10 ORDER BY id DESC",
            ].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        for plan in plans {
            #expect(plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"), "plan: \(plan)")
        }
    }

    @Test func aBootIsRecordedOnceWhicheverWayItArrives() async throws {
        let store = try Store.inMemory()
        let cluster = try await store.insert(Self.cluster("a"))
        let node = try await store.insert(Self.node("n1", clusterId: cluster.id!)).id!
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        func boot(_ id: String, bootedAt: Date, source: String) async throws -> RebootEventRecord? {
            try await store.recordBoot(nodeId: node, bootId: id, bootedAt: bootedAt, seenAt: bootedAt.addingTimeInterval(30), source: source, runId: nil)
        }
        #expect(try await boot("b1", bootedAt: t0, source: "audit") == nil, "a node's first audit only notes its boot")
        #expect(try await boot("b1", bootedAt: t0.addingTimeInterval(1), source: "audit") == nil)
        // beacon first, then the audit sees the same boot
        let byBeacon = try await boot("b2", bootedAt: t0.addingTimeInterval(600), source: "beacon")
        #expect(byBeacon?.oldBootId == "b1" && byBeacon?.newBootId == "b2" && byBeacon?.source == "beacon")
        #expect(try await boot("b2", bootedAt: t0.addingTimeInterval(601), source: "audit") == nil)
        // audit first, then the beacon (retrying late) announces the same boot
        #expect(try await boot("b3", bootedAt: t0.addingTimeInterval(1200), source: "audit")?.oldBootId == "b2")
        #expect(try await boot("b3", bootedAt: t0.addingTimeInterval(1200), source: "beacon") == nil)
        // an audit that read the node before its reboot reports the older boot late
        #expect(try await boot("b2", bootedAt: t0.addingTimeInterval(600), source: "audit") == nil)
        #expect(try await store.rebootEvents(cluster: "a", node: nil, before: nil, limit: 10).map(\.newBootId) == ["b3", "b2"])
        #expect(try await store.node(cluster: "a", name: "n1")?.observed?.lastBootId == "b3")
    }

    /// Imports write only what the inventory declares; what caulk observed stays, whatever the file says.
    @Test func reImportingKeepsWhatWasObservedAndDeletingANodeTakesItAlong() async throws {
        let store = try Store.inMemory()
        let inventory = [InventoryCluster(cluster: Self.cluster("a"), nodes: [Self.node("n1", clusterId: 0)])]
        _ = try await store.applyInventory(inventory, dryRun: false)
        let id = try #require(try await store.node(cluster: "a", name: "n1")?.node.id)
        #expect(try await store.node(cluster: "a", name: "n1")?.observed == nil, "nothing observed before the node first answers")
        let booted = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await store.recordBoot(nodeId: id, bootId: "b1", bootedAt: booted, seenAt: booted, source: "audit", runId: nil)
        try await store.writer.write { db in try Store.markSeen(db, nodeId: id, at: booted.addingTimeInterval(5)) }

        var changed = Self.node("n1", clusterId: 0)
        changed.labels = ["zone": "b"]
        let counts = try await store.applyInventory([InventoryCluster(cluster: Self.cluster("a"), nodes: [changed])], dryRun: false)
        #expect(counts.nodes == UpsertCounts(updated: 1))
        let row = try #require(try await store.node(cluster: "a", name: "n1"))
        #expect(row.node.labels == ["zone": "b"])
        #expect(row.observed == NodeObservation(nodeId: id, lastBootId: "b1", lastBootedAt: booted, lastSeenAt: booted.addingTimeInterval(5)))

        #expect(try await store.deleteNode(id: id))
        #expect(try await store.writer.read { db in try NodeObservation.fetchCount(db) } == 0)
    }

    @Test func onlyOneRunOfAKindPerClusterRunsAtOnce() async throws {
        let store = try Store.inMemory()
        let run = RunRecord(kind: .audit, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: nil, parameters: [:], hostCount: 1, startedAt: Date())
        guard case .started(let first) = try await store.startRun(run) else { Issue.record("not started"); return }
        guard case .alreadyRunning(let running) = try await store.startRun(run) else { Issue.record("started twice"); return }
        #expect(running.id == first.id)
        var other = run
        other.clusterName = "b"
        guard case .started = try await store.startRun(other) else { Issue.record("another cluster was blocked"); return }
        try await store.finishRun(id: first.id!, status: .succeeded, at: Date())
        guard case .started = try await store.startRun(run) else { Issue.record("a finished run still blocks"); return }
    }

    @Test func aDryRunRepairTakesNoLock() async throws {
        let store = try Store.inMemory()
        var dry = RunRecord(kind: .repair, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: nil, parameters: [:], hostCount: 0, startedAt: Date())
        dry.dryRun = true
        _ = try await store.insert(dry)
        var real = dry
        real.dryRun = false
        guard case .started = try await store.startRun(real) else { Issue.record("a dry run blocked a repair"); return }
        guard case .alreadyRunning = try await store.startRun(real) else { Issue.record("two repairs of one cluster started"); return }
    }

    @Test func aRebootQueuesOneAutoRepairWhenThePolicyIsOnAndLaterRebootsJoinIt() async throws {
        let store = try Store.inMemory()
        let cluster = try await store.insert(Self.cluster("a"))
        let n1 = try await store.insert(Self.node("n1", clusterId: cluster.id!)).id!
        let n2 = try await store.insert(Self.node("n2", clusterId: cluster.id!)).id!
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        for node in [n1, n2] { _ = try await store.recordBoot(nodeId: node, bootId: "first", bootedAt: t0, seenAt: t0, source: "audit", runId: nil) }
        _ = try await store.recordBoot(nodeId: n1, bootId: "second", bootedAt: t0.addingTimeInterval(100), seenAt: t0.addingTimeInterval(110), source: "beacon", runId: nil)
        #expect(try await store.autoRepairDecisions(cluster: "a", before: nil, limit: 10).isEmpty, "off by default")

        try await store.saveAutoRepairPolicy(AutoRepairPolicyRecord(
            clusterId: cluster.id!, enabled: true, delaySeconds: 60, maxPerHour: 2, maxDisruptedShare: 0.5, updatedBy: "me", updatedAt: t0))
        _ = try await store.recordBoot(nodeId: n1, bootId: "third", bootedAt: t0.addingTimeInterval(200), seenAt: t0.addingTimeInterval(210), source: "beacon", runId: nil)
        _ = try await store.recordBoot(nodeId: n2, bootId: "second", bootedAt: t0.addingTimeInterval(220), seenAt: t0.addingTimeInterval(230), source: "beacon", runId: nil)
        let decisions = try await store.autoRepairDecisions(cluster: "a", before: nil, limit: 10)
        #expect(decisions.count == 1 && decisions[0].reboots == 2 && decisions[0].nodeName == "n2")
        #expect(decisions[0].dueAt == t0.addingTimeInterval(290), "the delay runs again from the latest reboot")
        #expect(try await store.dueAutoRepairs(at: t0.addingTimeInterval(289)).isEmpty)
        #expect(try await store.dueAutoRepairs(at: t0.addingTimeInterval(290)).count == 1)
        #expect(try await store.claimAutoRepair(id: decisions[0].id!))
        #expect(try await !store.claimAutoRepair(id: decisions[0].id!), "a decision is acted on once")
    }

    @Test func aRepairCutShortByACrashKeepsItsStepsAndSaysWhichNodesItReached() async throws {
        let store = try Store.open(path: path)
        let run = try await store.insert(RunRecord(
            kind: .repair, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: nil, parameters: [:], hostCount: 0, startedAt: Date()))
        let audit = try await store.insert(RunRecord(
            kind: .audit, clusterId: nil, clusterName: "a", trigger: .cli, requester: "me", command: nil, parameters: [:], hostCount: 3, startedAt: Date()))
        try await store.recordRepairPlan(runId: run.id!, auditBeforeId: audit.id!, nodes: ["n1", "n2", "n3"].enumerated().map {
            RepairNodeRecord(runId: run.id!, nodeId: nil, nodeName: $1, position: $0, findings: ["F1"], repairs: ["vxlan-reset"], outcome: .pending, reason: nil)
        })
        try await store.updateRepairNode(runId: run.id!, node: "n1", outcome: .recovered, reason: nil, startedAt: Date(), finishedAt: Date())
        try await store.updateRepairNode(runId: run.id!, node: "n2", outcome: .running, reason: nil, startedAt: Date())
        try await store.recordRepairStep(RepairStepRecord(
            runId: run.id!, nodeName: "n2", host: "n2", repair: "vxlan-reset", step: "delete-device", command: "ip link del vxlan.calico", outcome: .ok,
            exitStatus: 0, stdout: "", stderr: "", startedAt: Date(), durationMs: 12))
        let reopened = try Store.open(path: path)
        #expect(try await reopened.markInterruptedRuns(at: Date()).runs.count == 2)
        let (nodes, steps) = try await reopened.repair(runId: run.id!)
        #expect(nodes.map(\.outcome) == [.recovered, .failed, .skipped])
        #expect(nodes[1].reason == "caulk stopped while the repair ran" && nodes[0].findings == ["F1"])
        #expect(steps.map(\.step) == ["delete-device"])
        let record = try #require(try await reopened.run(id: run.id!)?.0)
        #expect(record.auditBeforeId == audit.id && record.hostCount == 3 && record.status == .interrupted)
    }

    @Test func aNodeTokenMustNameItsNode() async throws {
        let store = try Store.open(path: path)
        try await store.writer.write { db in
            try db.execute(sql: "INSERT INTO tokens (name, role, secret_hash, created_at) VALUES ('x', 'viewer', 'h', '2026-01-01')")
        }
        await #expect(throws: DatabaseError.self) {
            try await store.writer.write { db in
                try db.execute(sql: "INSERT INTO tokens (name, role, secret_hash, created_at) VALUES ('y', 'node', 'h3', '2026-01-01')")
            }
        }
    }

    static func cluster(_ name: String) -> ClusterRecord {
        ClusterRecord(
            name: name, apiEndpoint: "https://198.18.0.1:6443", podCidr: nil, encapsulation: .vxlan,
            calicoNamespace: .kubeSystem, sshUser: "root", sshPort: 22, sshKey: nil, bastion: nil,
            createdAt: Date(), updatedAt: Date())
    }

    static func node(_ name: String, clusterId: Int64) -> NodeRecord {
        NodeRecord(
            clusterId: clusterId, name: name, address: "198.18.0.2", role: .worker, labels: [:], sshUser: nil,
            sshPort: nil, sshKey: nil, bastion: nil, hostKey: nil, createdAt: Date(), updatedAt: Date())
    }
}
