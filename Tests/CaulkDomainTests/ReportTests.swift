import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

/// Reports count what was recorded, under what the nodes ran at the time.
@Suite struct ReportTests {
    let store: Store
    let reports: ReportService
    let inventory: InventoryService
    /// A Monday.
    static let t0 = Date(timeIntervalSince1970: 1_795_392_000)  // 2026-11-23 00:00:00 UTC

    init() throws {
        store = try Store.inMemory()
        reports = ReportService(store: store, clock: { Self.t0.addingTimeInterval(14 * 86_400) })
        inventory = InventoryService(store: store)
    }

    /// An audit of `cluster` at `time`: each node with its kernel, Calico version and findings.
    func audit(_ cluster: String, at time: Date, calico: String?, nodes: [(name: String, kernel: String, findings: [String])]) async throws -> Int64 {
        let row = try #require(try await store.cluster(named: cluster))
        var run = RunRecord(
            kind: .audit, clusterId: row.cluster.id, clusterName: cluster, trigger: .schedule, requester: "test", command: nil, parameters: [:],
            hostCount: nodes.count, startedAt: time)
        run = try await store.insert(run)
        for node in nodes {
            let id = try await store.node(cluster: cluster, name: node.name)?.node.id
            try await store.recordAuditNode(
                AuditNodeRecord(
                    runId: run.id!, nodeId: id, nodeName: node.name, health: node.findings.isEmpty ? .healthy : .broken, bootId: nil, bootedAt: nil,
                    kernel: node.kernel, nicDriver: "vmxnet3", calicoVersion: calico, encapsulation: .vxlan, facts: "{}", error: nil, finishedAt: time),
                findings: node.findings.map {
                    FindingRecord(runId: run.id!, clusterName: cluster, nodeName: node.name, checkId: $0, severity: .critical, message: "m", evidence: "", repair: nil, createdAt: time)
                },
                seenAt: time)
        }
        try await store.finishRun(id: run.id!, status: .succeeded, at: time)
        return run.id!
    }

    func boot(_ cluster: String, _ node: String, _ bootId: String, at time: Date, runId: Int64? = nil, source: String = "beacon") async throws {
        let id = try #require(try await store.node(cluster: cluster, name: node)?.node.id)
        _ = try await store.recordBoot(nodeId: id, bootId: bootId, bootedAt: time, seenAt: time, source: source, runId: runId)
    }

    @Test func rebootsCountUnderWhatTheNodeRanThen() async throws {
        for cluster in ["a", "b"] {
            _ = try await inventory.createCluster(ClusterInput(name: cluster, apiEndpoint: "https://198.18.0.1:6443"))
            for node in ["n1", "n2"] { _ = try await inventory.createNode(NodeInput(cluster: cluster, name: node, address: "198.18.0.2")) }
        }
        let t0 = Self.t0
        // First boots are only noted; these are the baseline.
        for cluster in ["a", "b"] { for node in ["n1", "n2"] { try await boot(cluster, node, "boot-0", at: t0, source: "audit") } }
        // Week 1: a/n1 reboots on kernel 5.14 and Calico 3.26 (the beacon's, then the audit after it);
        // b/n1 reboots, noticed by an audit on kernel 4.18.
        try await boot("a", "n1", "boot-1", at: t0.addingTimeInterval(86_400))
        _ = try await audit("a", at: t0.addingTimeInterval(86_400 + 600), calico: "3.26.1", nodes: [("n1", "5.14", ["F1"]), ("n2", "5.14", [])])
        let bAudit = try await audit("b", at: t0.addingTimeInterval(2 * 86_400), calico: "3.27.3", nodes: [("n1", "4.18", []), ("n2", "4.18", [])])
        try await boot("b", "n1", "boot-1", at: t0.addingTimeInterval(2 * 86_400), runId: bAudit, source: "audit")
        // Week 2: a/n1 and a/n2 reboot, after an upgrade to Calico 3.27.
        _ = try await audit("a", at: t0.addingTimeInterval(7 * 86_400), calico: "3.27.3", nodes: [("n1", "5.14", []), ("n2", "5.14", [])])
        try await boot("a", "n1", "boot-2", at: t0.addingTimeInterval(8 * 86_400))
        try await boot("a", "n2", "boot-1", at: t0.addingTimeInterval(8 * 86_400))
        _ = try await audit("a", at: t0.addingTimeInterval(8 * 86_400 + 600), calico: "3.27.3", nodes: [("n1", "5.14", []), ("n2", "5.14", ["F3"])])

        var report = try await reports.report(.reboots, since: "2026-11-23", until: nil, clusters: [], groupBy: nil)
        #expect(report.columns == ["cluster", "reboots", "nodes", "clusters"])
        #expect(report.rows == [[.string("a"), .int(3), .int(2), .int(1)], [.string("b"), .int(1), .int(1), .int(1)]])

        report = try await reports.report(.reboots, since: "3w", until: nil, clusters: [], groupBy: .week)
        #expect(report.rows == [[.string("2026-11-23"), .int(2), .int(2), .int(2)], [.string("2026-11-30"), .int(2), .int(2), .int(1)]])

        report = try await reports.report(.reboots, since: "30d", until: nil, clusters: ["a", "a"], groupBy: .calicoVersion)
        #expect(report.clusters == ["a"])
        #expect(report.rows == [[.string("3.26.1"), .int(1), .int(1), .int(1)], [.string("3.27.3"), .int(2), .int(2), .int(1)]])

        report = try await reports.report(.reboots, since: "30d", until: "2026-11-30", clusters: [], groupBy: .kernel)
        #expect(report.rows == [[.string("4.18"), .int(1), .int(1), .int(1)], [.string("5.14"), .int(1), .int(1), .int(1)]])

        // After a reboot: a/n1's first reboot was followed by F1 and healthy again a week later;
        // a/n2's by F3, not yet healthy again; the other two by clean audits.
        report = try await reports.report(.postReboot, since: "30d", until: nil, clusters: [], groupBy: nil)
        #expect(report.columns == ["cluster", "reboots", "judged", "faulty", "faulty_percent", "recovered", "checks"])
        #expect(report.rows == [
            [.string("a"), .int(3), .int(3), .int(2), .int(67), .int(1), .string("F1 1, F3 1")],
            [.string("b"), .int(1), .int(1), .int(0), .int(0), .int(0), .string("")],
        ])
        report = try await reports.report(.postReboot, since: "30d", until: nil, clusters: [], groupBy: .calicoVersion)
        #expect(report.rows.map { $0[0] } == [.string("3.26.1"), .string("3.27.3")] && report.rows[0][3] == .int(1) && report.rows[1][3] == .int(1))

        // Findings: F1 on a/n1 was resolved by a later audit; F3 on a/n2 is still open.
        report = try await reports.report(.findings, since: "30d", until: nil, clusters: [], groupBy: nil)
        #expect(report.columns == ["check", "findings", "nodes", "open", "resolved"])
        #expect(report.rows == [[.string("F1"), .int(1), .int(1), .int(0), .int(1)], [.string("F3"), .int(1), .int(1), .int(1), .int(0)]])
    }

    /// What an audit could not tell is not a verdict: a reboot followed by an UNKNOWN finding, or
    /// by no audit yet, is counted, neither faulty nor fine.
    @Test func aRebootNoAuditCouldJudgeIsCountedNotJudged() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "c", apiEndpoint: "https://198.18.0.1:6443"))
        for node in ["n1", "n2", "n3"] { _ = try await inventory.createNode(NodeInput(cluster: "c", name: node, address: "198.18.0.2")) }
        let t0 = Self.t0
        for node in ["n1", "n2", "n3"] {
            try await boot("c", node, "boot-0", at: t0, source: "audit")
            try await boot("c", node, "boot-1", at: t0.addingTimeInterval(3600))
        }
        _ = try await audit("c", at: t0.addingTimeInterval(7200), calico: nil, nodes: [("n1", "5.14", ["UNKNOWN"]), ("n2", "5.14", ["F4"])])
        // n3 was never audited after its reboot.
        let report = try await reports.report(.postReboot, since: "30d", until: nil, clusters: ["c"], groupBy: .calicoVersion)
        #expect(report.rows == [[.string("unknown"), .int(3), .int(1), .int(1), .int(100), .int(0), .string("F4 1")]], "n1 (UNKNOWN only) and n3 (no audit yet) are not judged")
        let none = try await reports.report(.postReboot, since: "30d", until: "2026-11-23T00:30:00Z", clusters: ["c"], groupBy: nil)
        #expect(none.rows.isEmpty)
    }

    @Test func whatCannotBeAnsweredIsRefusedNamingTheField() async throws {
        await #expect(throws: DomainError.invalid(field: "group_by", message: "caulk does not record the nodes' operating system yet; group reboots by one of: cluster, encapsulation, calico-version, kernel, nic-driver, day, week")) {
            _ = try await reports.report(.reboots, since: nil, until: nil, clusters: [], groupBy: .os)
        }
        await #expect(throws: DomainError.self) { _ = try await reports.report(.reboots, since: nil, until: nil, clusters: [], groupBy: .check) }
        for bad in ["yesterday", "30", "30m", "2026-02-30", "2026-11-01T25:00:00Z", "", "99999d"] {
            await #expect(throws: DomainError.self, "\(bad)") { _ = try await reports.report(.findings, since: bad, until: nil, clusters: [], groupBy: nil) }
        }
        await #expect(throws: DomainError.self) { _ = try await reports.report(.findings, since: nil, until: nil, clusters: ["Not_A_Name"], groupBy: nil) }
        // An empty or inverted range is an empty report, not an error.
        let empty = try await reports.report(.findings, since: "2026-12-01", until: "2026-11-01", clusters: [], groupBy: .day)
        #expect(empty.rows.isEmpty)
    }
}
