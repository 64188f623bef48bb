import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

/// Retention removes exactly what is older than configured, says so in reports, and the file
/// shrinks.
@Suite struct RetentionTests {
    let directory = FileManager.default.temporaryDirectory.appending(path: "caulk-retention-\(UUID().uuidString)")
    static let t0 = Date(timeIntervalSince1970: 1_760_000_000)
    static let now = t0.addingTimeInterval(400 * 86_400)

    func days(_ count: Double) -> Date { Self.t0.addingTimeInterval(count * 86_400) }

    @Test func purgeRemovesExactlyWhatIsOlderThanConfiguredAndTheFileShrinks() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store.open(path: directory.appending(path: "caulk.db").path)
        #expect(try await !store.incrementalVacuumEnabled())
        try await store.enableIncrementalVacuum()
        #expect(try await store.incrementalVacuumEnabled())
        let inventory = InventoryService(store: store)
        _ = try await inventory.createCluster(ClusterInput(name: "c", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        for node in ["n1", "n2"] { _ = try await inventory.createNode(NodeInput(cluster: "c", name: node, address: "198.18.0.2"), by: "test") }
        let nodeIds = [try await store.node(cluster: "c", name: "n1")!.node.id!, try await store.node(cluster: "c", name: "n2")!.node.id!]

        // 400 days ago: an audit with facts and findings, a reboot, and the two incidents the
        // audit opened (both nodes broken).
        let old = try await run(store, .audit, at: days(0), finished: false)
        for (index, node) in ["n1", "n2"].enumerated() {
            try await store.recordAuditNode(
                AuditNodeRecord(
                    runId: old, nodeId: nodeIds[index], nodeName: node, health: .broken, bootId: nil, bootedAt: nil, kernel: "5.14", nicDriver: "vmxnet3",
                    facts: #"{"kernel": "5.14"}"#, error: nil, finishedAt: days(0)),
                findings: [FindingRecord(runId: old, clusterName: "c", nodeName: node, checkId: "F2", severity: .critical, message: "m", evidence: "", repair: nil, createdAt: days(0))],
                seenAt: days(0))
        }
        _ = try await store.recordBoot(nodeId: nodeIds[0], bootId: "b0", bootedAt: days(-1), seenAt: days(-1), source: "audit", runId: nil)
        _ = try await store.recordBoot(nodeId: nodeIds[0], bootId: "b1", bootedAt: days(0), seenAt: days(0), source: "audit", runId: old)
        try await store.finishRun(id: old, status: .succeeded, at: days(0))
        // 100 days ago: an exec whose output is large; 5 days ago: another, and a reboot.
        let output = String(repeating: "x", count: 2_000_000)
        let middle = try await run(store, .exec, at: days(300), hosts: ["n1", "n2"], output: output)
        let recent = try await run(store, .exec, at: days(395), hosts: ["n1"], output: "kept")
        _ = try await store.recordBoot(nodeId: nodeIds[0], bootId: "b2", bootedAt: days(395), seenAt: days(395), source: "beacon", runId: nil)

        // Who changed what: once 400 days ago, once 5 days ago (the inventory above is older still).
        for (actor, day) in [("then", 0.0), ("lately", 395)] {
            _ = try await store.insert(ActivityRecord(at: days(day), actor: actor, action: "token.create", cluster: nil, target: actor))
        }
        try await store.writer.write { db in try db.execute(sql: "UPDATE activity SET at = ? WHERE actor = 'test'", arguments: [days(-10)]) }

        let policy = RetentionPolicy(keepDays: [.output: 90, .facts: 365, .findings: 365, .runs: 365, .events: 365, .activity: 365])
        let retention = RetentionService(store: store, policy: policy, batchSize: 1, pause: .zero, clock: { Self.now })
        let expected: [RetentionClass: Int] = [.output: 2, .facts: 2, .findings: 2, .runs: 1, .events: 3, .activity: 4]

        let plan = try await retention.purge(dryRun: true)
        #expect(Dictionary(uniqueKeysWithValues: plan.classes.map { ($0.class, $0.rows) }) == expected)
        #expect(try await store.run(id: middle)?.1.map(\.stdout) == [output, output], "a dry run changes nothing")

        // One row per batch: every class takes several passes and still stops at the cutoff.
        let purged = try await retention.purge(dryRun: false)
        #expect(Dictionary(uniqueKeysWithValues: purged.classes.map { ($0.class, $0.rows) }) == expected)
        #expect(try await store.runRecord(id: old) == nil)
        #expect(try await store.run(id: middle)?.1.map(\.stdout) == ["", ""], "output older than 90 days is emptied, the hosts stay")
        #expect(try await store.run(id: recent)?.1.map(\.stdout) == ["kept"])
        let reboots = try await RebootService(store: store).list(cluster: "c", node: nil, paging: Paging(limit: 10))
        #expect(reboots.items.map(\.newBootId) == ["b2"])
        let incidents = try await store.incidents(since: days(-30), until: Self.now, clusters: nil, groupBy: .cluster)
        #expect(incidents.isEmpty, "the old audit's incidents went with the events")
        #expect(try await store.activity(ActivityFilter(), before: nil, limit: 10).map(\.actor) == ["lately"])
        let before = try #require(purged.fileBytesBefore), after = try #require(purged.fileBytesAfter)
        #expect(after < before - 3_000_000, "the freed pages went back to the file system: \(before) → \(after) bytes")

        // Reports over the purged range say so; a second purge finds nothing more.
        let reports = ReportService(store: store, library: try PlaybookLibrary(), clock: { Self.now })
        let report = try await reports.report(.reboots, since: "730d", until: nil, clusters: [], groupBy: nil)
        #expect(report.purgedBefore == Self.now.addingTimeInterval(-365 * 86_400))
        #expect(try await reports.report(.reboots, since: "30d", until: nil, clusters: [], groupBy: nil).purgedBefore == nil)
        let again = try await retention.purge(dryRun: false)
        #expect(again.classes.allSatisfy { $0.rows == 0 })
    }

    func run(_ store: Store, _ kind: RunKind, at time: Date, hosts: [String] = [], output: String = "", finished: Bool = true) async throws -> Int64 {
        let cluster = try #require(try await store.cluster(named: "c"))
        let run = try await store.insert(
            RunRecord(
                kind: kind, clusterId: cluster.cluster.id, clusterName: "c", trigger: .cli, requester: "test", command: "true", parameters: [:],
                hostCount: hosts.count, startedAt: time))
        for host in hosts {
            try await store.recordHost(
                RunHostRecord(
                    runId: run.id!, nodeName: host, address: "198.18.0.2", outcome: .ok, exitStatus: 0, exitSignal: nil, stdout: output, stderr: "",
                    stdoutTruncated: false, stderrTruncated: false, errorKind: nil, error: nil, hostKey: nil, durationMs: 1, finishedAt: time),
                nodeId: nil, seenAt: nil)
        }
        if finished { try await store.finishRun(id: run.id!, status: .succeeded, at: time) }
        return run.id!
    }
}
