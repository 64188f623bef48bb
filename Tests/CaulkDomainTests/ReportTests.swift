import CaulkAPI
import CaulkStore
import Foundation
import GRDB
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
        reports = ReportService(store: store, library: try PlaybookLibrary(), clock: { Self.t0.addingTimeInterval(14 * 86_400) })
        inventory = InventoryService(store: store)
    }

    /// An audit of `cluster` at `time`: each node with its kernel, Calico version and findings.
    /// RHEL 9's kernel is 5.14, RHEL 8's 4.18.
    func audit(
        _ cluster: String, at time: Date, calico: String?, nodes: [(name: String, kernel: String, findings: [String])], playbook: String? = nil,
        facts: [String: String] = [:], clusterFindings: [String] = []
    ) async throws -> Int64 {
        let row = try #require(try await store.cluster(named: cluster))
        var run = RunRecord(
            kind: .audit, clusterId: row.cluster.id, clusterName: cluster, trigger: .schedule, requester: "test", command: nil, parameters: [:],
            hostCount: nodes.count, startedAt: time, playbook: playbook)
        run = try await store.insert(run)
        for node in nodes {
            let id = try await store.node(cluster: cluster, name: node.name)?.node.id
            try await store.recordAuditNode(
                AuditNodeRecord(
                    runId: run.id!, nodeId: id, nodeName: node.name, health: node.findings.isEmpty ? .healthy : .broken, bootId: nil, bootedAt: nil,
                    kernel: node.kernel, nicDriver: "vmxnet3", calicoVersion: calico, encapsulation: .vxlan,
                    os: node.kernel.hasPrefix("5.") ? "rhel 9.4" : "rhel 8.10", facts: facts[node.name] ?? "{}", error: nil, finishedAt: time),
                findings: node.findings.map {
                    FindingRecord(runId: run.id!, clusterName: cluster, nodeName: node.name, checkId: $0, severity: .critical, message: "m", evidence: "", repair: nil, createdAt: time)
                },
                seenAt: time)
        }
        if !clusterFindings.isEmpty {
            try await store.finishAudit(
                runId: run.id!, findings: clusterFindings.map {
                    FindingRecord(runId: run.id!, clusterName: cluster, nodeName: nil, checkId: $0, severity: .warning, message: "m", evidence: "", repair: nil, createdAt: time)
                }, health: [:], status: .succeeded, summary: "{}", at: time)
        }
        try await store.finishRun(id: run.id!, status: .succeeded, at: time)
        return run.id!
    }

    /// A repair run on `cluster` at `time`: each node with its outcome and its steps' outcomes.
    @discardableResult
    func repair(
        _ cluster: String, at time: Date, playbook: String, trigger: RunTrigger, status: RunStatus, dryRun: Bool = false,
        nodes: [(name: String, outcome: RepairNodeOutcome, steps: [RepairStepOutcome])]
    ) async throws -> Int64 {
        let row = try #require(try await store.cluster(named: cluster))
        var run = RunRecord(
            kind: .repair, clusterId: row.cluster.id, clusterName: cluster, trigger: trigger, requester: "test", command: nil, parameters: [:],
            hostCount: nodes.count, startedAt: time, playbook: playbook)
        run.dryRun = dryRun
        run = try await store.insert(run)
        let runId = run.id!
        var plan: [RepairNodeRecord] = []
        for (position, node) in nodes.enumerated() {
            let id = try await store.node(cluster: cluster, name: node.name)?.node.id
            plan.append(RepairNodeRecord(runId: runId, nodeId: id, nodeName: node.name, position: position, findings: [], repairs: [playbook], outcome: .pending, reason: nil))
        }
        let before = try await audit(cluster, at: time.addingTimeInterval(-1), calico: nil, nodes: [])
        try await store.recordRepairPlan(runId: runId, auditBeforeId: before, nodes: plan)
        for node in nodes {
            try await store.updateRepairNode(runId: runId, node: node.name, outcome: node.outcome, reason: nil, startedAt: time, finishedAt: time.addingTimeInterval(60))
            for step in node.steps {
                try await store.recordRepairStep(
                    RepairStepRecord(
                        runId: runId, nodeName: node.name, host: node.name, repair: playbook, step: "s", command: "true", outcome: step, exitStatus: nil,
                        stdout: "out", stderr: "", startedAt: time, durationMs: 5))
            }
        }
        try await store.finishRepair(runId: runId, status: status, auditAfterId: nil, summary: "{}", at: time.addingTimeInterval(120))
        return runId
    }

    func boot(_ cluster: String, _ node: String, _ bootId: String, at time: Date, runId: Int64? = nil, source: String = "beacon") async throws {
        let id = try #require(try await store.node(cluster: cluster, name: node)?.node.id)
        _ = try await store.recordBoot(nodeId: id, bootId: bootId, bootedAt: time, seenAt: time, source: source, runId: runId)
    }

    @Test func rebootsCountUnderWhatTheNodeRanThen() async throws {
        for cluster in ["a", "b"] {
            _ = try await inventory.createCluster(ClusterInput(name: cluster, apiEndpoint: "https://198.18.0.1:6443"), by: "test")
            for node in ["n1", "n2"] { _ = try await inventory.createNode(NodeInput(cluster: cluster, name: node, address: "198.18.0.2"), by: "test") }
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
        report = try await reports.report(.reboots, since: "30d", until: "2026-11-30", clusters: [], groupBy: .os)
        #expect(report.rows == [[.string("rhel 8.10"), .int(1), .int(1), .int(1)], [.string("rhel 9.4"), .int(1), .int(1), .int(1)]])
        #expect(report.purgedBefore == nil)

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
        report = try await reports.report(.findings, since: "30d", until: nil, clusters: [], groupBy: .calicoVersion)
        #expect(report.rows == [[.string("3.26.1"), .int(1), .int(1), .int(0), .int(1)], [.string("3.27.3"), .int(1), .int(1), .int(1), .int(0)]])
    }

    /// What an audit could not tell is not a verdict: a reboot followed by an UNKNOWN finding, or
    /// by no audit yet, is counted, neither faulty nor fine.
    @Test func aRebootNoAuditCouldJudgeIsCountedNotJudged() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "c", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        for node in ["n1", "n2", "n3"] { _ = try await inventory.createNode(NodeInput(cluster: "c", name: node, address: "198.18.0.2"), by: "test") }
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

    /// Recovery times computed by hand (`seedRecoveries`).
    @Test func recoveryTimesRunFromTheRebootOrFirstFaultyAuditToTheNextHealthyOne() async throws {
        try await seedRecoveries()
        let report = try await reports.report(.mttr, since: "30d", until: nil, clusters: [], groupBy: nil)
        #expect(report.columns == ["cluster", "incidents", "after_reboot", "recovered", "median_seconds", "p90_seconds", "max_seconds", "repairs", "unrecovered"])
        // Recovered in 3 h (10,800 s) and 24 h (86,400 s): median their mean, p90 and max the larger.
        #expect(report.rows == [[.string("m"), .int(3), .int(2), .int(2), .int(48_600), .int(86_400), .int(86_400), .int(2), .int(1)]])
        #expect(report.details?.columns == ["cluster", "node", "since", "after_reboot", "repairs", "checks"])
        #expect(report.details?.rows == [[.string("m"), .string("n3"), .string("2026-11-23T05:00:00.000Z"), .string("yes"), .int(1), .string("F1")]])

        let byCheck = try await reports.report(.repairs, since: "30d", until: nil, clusters: ["m"], groupBy: nil)
        #expect(byCheck.columns == ["playbook", "runs", "succeeded", "failed", "stopped", "running", "success_percent", "nodes_touched", "nodes_recovered", "steps_failed"])
        #expect(byCheck.rows == [
            [.string("calico-recover"), .int(1), .int(1), .int(0), .int(0), .int(0), .int(100), .int(1), .int(1), .int(0)],
            [.string("offload-off"), .int(1), .int(0), .int(1), .int(0), .int(0), .int(0), .int(1), .int(0), .int(1)],
        ])
        let byTrigger = try await reports.report(.repairs, since: "30d", until: nil, clusters: [], groupBy: .trigger)
        #expect(byTrigger.rows.map { $0[0] } == [.string("auto"), .string("cli")])
        #expect(ReportService.median([1, 2, 3]) == 2 && ReportService.nearestRank(Array(1...10), 0.9) == 9 && ReportService.nearestRank([5], 0.9) == 5)
    }

    /// n1 rebooted into F2 and a repair healed it 3 h after the reboot; n2 turned faulty with no
    /// reboot and was healthy a day after that audit; n3 rebooted into F1 and a failed repair
    /// later is still faulty.
    func seedRecoveries() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "m", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        for node in ["n1", "n2", "n3"] { _ = try await inventory.createNode(NodeInput(cluster: "m", name: node, address: "198.18.0.2"), by: "test") }
        let t0 = Self.t0, hour = 3600.0
        for node in ["n1", "n2", "n3"] { try await boot("m", node, "boot-0", at: t0.addingTimeInterval(-hour), source: "audit") }
        _ = try await audit("m", at: t0, calico: "3.28.2", nodes: [("n1", "5.14", []), ("n2", "5.14", []), ("n3", "5.14", [])])
        try await boot("m", "n1", "boot-1", at: t0.addingTimeInterval(hour))
        _ = try await audit("m", at: t0.addingTimeInterval(2 * hour), calico: "3.28.2", nodes: [("n1", "5.14", ["F2"]), ("n2", "5.14", ["F4"]), ("n3", "5.14", [])])
        try await repair("m", at: t0.addingTimeInterval(3 * hour), playbook: "calico-recover", trigger: .cli, status: .succeeded, nodes: [("n1", .recovered, [.ok, .ok])])
        _ = try await audit("m", at: t0.addingTimeInterval(4 * hour), calico: "3.28.2", nodes: [("n1", "5.14", []), ("n2", "5.14", ["F4"]), ("n3", "5.14", [])])
        try await boot("m", "n3", "boot-1", at: t0.addingTimeInterval(5 * hour))
        _ = try await audit("m", at: t0.addingTimeInterval(6 * hour), calico: "3.28.2", nodes: [("n1", "5.14", []), ("n2", "5.14", ["F4"]), ("n3", "5.14", ["F1"])])
        try await repair("m", at: t0.addingTimeInterval(7 * hour), playbook: "offload-off", trigger: .auto, status: .failed, nodes: [("n3", .failed, [.ok, .failed])])
        // A dry run plans and touches nothing: not a repair in the report.
        try await repair("m", at: t0.addingTimeInterval(7 * hour), playbook: "offload-off", trigger: .cli, status: .succeeded, dryRun: true, nodes: [("n3", .planned, [.planned])])
        _ = try await audit("m", at: t0.addingTimeInterval(26 * hour), calico: "3.28.2", nodes: [("n1", "5.14", []), ("n2", "5.14", []), ("n3", "5.14", ["F1"])])
    }

    /// Audits worked into the report history when the service starts (a database from before the
    /// report history, or a generated one), one run at a time, give the same reports as audits
    /// worked as they finish.
    @Test func historyWorkedAtStartUpMatchesHistoryWorkedLive() async throws {
        try await seedRecoveries()
        let t0 = Self.t0
        try await boot("m", "n2", "boot-1", at: t0.addingTimeInterval(27 * 3600))
        // An upgrade to Calico 3.29 came with that reboot: a run worked before this one must still
        // group the reboot under what this audit read.
        _ = try await audit("m", at: t0.addingTimeInterval(28 * 3600), calico: "3.29.1", nodes: [("n1", "5.14", ["UNKNOWN"]), ("n2", "5.14", ["F4"]), ("n3", "5.14", [])])
        func everyReport() async throws -> [Report] {
            var all: [Report] = []
            for name in ReportName.allCases {
                for group in ReportService.groups(of: name).all {
                    all.append(try await reports.report(name, since: "30d", until: nil, clusters: [], groupBy: group))
                }
            }
            return all
        }
        let live = try await everyReport()
        let mttr = try #require(live.first { $0.report == .mttr })
        #expect(mttr.rows.first?[1] == .int(4), "n2's fault after its reboot is a fourth incident")
        let byVersion = try #require(live.first { $0.report == .reboots && $0.groupBy == .calicoVersion })
        #expect(byVersion.rows.map { $0[0] } == [.string("3.28.2"), .string("3.29.1")])
        try await store.writer.write { db in
            try db.execute(sql: """
                DELETE FROM incidents;
                UPDATE reboot_events SET audit_node_id = NULL, fact_set_id = NULL, judged = NULL, checks = NULL, recovered_at = NULL;
                UPDATE findings SET fact_set_id = NULL;
                DELETE FROM node_fact_sets;
                UPDATE runs SET history_indexed = 0;
                """)
        }
        let backlog = try await store.historyBacklog()
        #expect(backlog == 9, "6 audits and the 3 repairs' audits before")
        #expect(try await store.indexHistory(batch: 1) == backlog)
        #expect(try await store.historyBacklog() == 0)
        #expect(try await everyReport() == live)
    }

    /// F8 names the vmxnet3 nodes on a kernel above 5.7 whose offload is still off; F6 the nodes
    /// whose NetworkManager manages Calico's interfaces; a node the latest audit did not read is
    /// unknown, never fine.
    @Test func riskNamesTheNodesTheLatestAuditFoundAtRiskAndWhatItCouldNotTell() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "r", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        for node in ["r1", "r2", "r3", "r4"] { _ = try await inventory.createNode(NodeInput(cluster: "r", name: node, address: "198.18.0.2"), by: "test") }
        let t0 = Self.t0
        // An older audit's findings are history, not risk.
        _ = try await audit("r", at: t0, calico: "3.28.2", nodes: [("r1", "5.14", ["F6"])], playbook: "calico-vxlan")
        _ = try await audit(
            "r", at: t0.addingTimeInterval(3600), calico: "3.28.2", nodes: [("r1", "5.14", []), ("r2", "5.14", []), ("r3", "4.18", ["F6"])],
            playbook: "calico-vxlan",
            facts: [
                "r1": #"{"kernel": "5.14.0-427.el9.x86_64", "nic_driver": "vmxnet3", "offload": "off"}"#,
                "r2": #"{"kernel": "5.14.0-427.el9.x86_64", "nic_driver": "virtio_net", "offload": "off"}"#,
                "r3": #"{"kernel": "4.18.0-553.el8.x86_64", "nic_driver": "vmxnet3", "offload": "off"}"#,
            ],
            clusterFindings: ["F8"])
        let report = try await reports.report(.risk, since: nil, until: nil, clusters: [], groupBy: nil)
        #expect(report.columns == ["cluster", "node", "check", "risk", "fix", "audited_at"])
        #expect(report.rows.map { Array($0[0..<3]) + [$0[4]] } == [
            [.string("r"), .string("r1"), .string("F8"), .string("offload-off")],
            [.string("r"), .string("r3"), .string("F6"), .string("nm-unmanaged")],
            [.string("r"), .string("r4"), .string("-"), .string("audit the cluster")],
        ])
        #expect(report.rows[2][3] == .string("unknown: the latest audit did not include the node"))
    }

    @Test func whatCannotBeAnsweredIsRefusedNamingTheField() async throws {
        await #expect(throws: DomainError.invalid(field: "group_by", message: "reboots cannot be grouped by check; group it by one of: cluster, encapsulation, calico-version, kernel, os, nic-driver, day, week")) {
            _ = try await reports.report(.reboots, since: nil, until: nil, clusters: [], groupBy: .check)
        }
        await #expect(throws: DomainError.self) { _ = try await reports.report(.repairs, since: nil, until: nil, clusters: [], groupBy: .kernel) }
        for bad in ["yesterday", "30", "30m", "2026-02-30", "2026-11-01T25:00:00Z", "", "99999d"] {
            await #expect(throws: DomainError.self, "\(bad)") { _ = try await reports.report(.findings, since: bad, until: nil, clusters: [], groupBy: nil) }
        }
        await #expect(throws: DomainError.self) { _ = try await reports.report(.findings, since: nil, until: nil, clusters: ["Not_A_Name"], groupBy: nil) }
        // An empty or inverted range is an empty report, not an error.
        let empty = try await reports.report(.findings, since: "2026-12-01", until: "2026-11-01", clusters: [], groupBy: .day)
        #expect(empty.rows.isEmpty)
    }
}

/// The report queries reach the history's large tables through indexes: no full scan of a table
/// that grows with the fleet's history, whatever the report and group.
@Suite struct ReportQueryPlanTests {
    static let historyTables = [
        "runs", "run_hosts", "audit_nodes", "findings", "faults", "reboot_events", "incidents", "repair_nodes", "repair_steps", "auto_repair_decisions",
    ]

    @Test func everyReportQueryUsesIndexesOnTheHistoryTables() async throws {
        let history = try ReportTests()
        let store = history.store
        _ = try await history.inventory.createCluster(ClusterInput(name: "a", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        _ = try await history.inventory.createNode(NodeInput(cluster: "a", name: "n1", address: "198.18.0.2"), by: "test")
        try await history.boot("a", "n1", "boot-0", at: ReportTests.t0, source: "audit")
        try await history.boot("a", "n1", "boot-1", at: ReportTests.t0.addingTimeInterval(60))
        let statements = Statements()
        try await store.writer.write { db in db.trace(options: .statement) { statements.append($0.expandedDescription) } }
        // Working a finished audit into the report history, at the end of every audit.
        _ = try await history.audit("a", at: ReportTests.t0.addingTimeInterval(120), calico: nil, nodes: [("n1", "5.14", ["F1"])])
        let reports = ReportService(store: store, library: try PlaybookLibrary())
        for name in ReportName.allCases {
            for group in ReportService.groups(of: name).all {
                _ = try await reports.report(name, since: "30d", until: nil, clusters: name == .findings ? ["a"] : [], groupBy: group)
            }
        }
        let dashboard = DashboardService(store: store, reports: reports, runs: RunHistory(store: store), reboots: RebootService(store: store))
        _ = try await dashboard.dashboard()
        try await store.writer.write { db in db.trace(options: .statement, nil) }

        let queries = Set(statements.all.filter { statement in
            ["WITH", "SELECT", "INSERT INTO incidents", "INSERT OR IGNORE", "UPDATE incidents", "UPDATE reboot_events", "UPDATE findings"].contains {
                statement.hasPrefix($0)
            }
        })
        #expect(queries.count >= 20, "\(queries.count) report queries traced")
        #expect(queries.filter { $0.hasPrefix("INSERT") || $0.hasPrefix("UPDATE ") }.count == 6, "the report history's statements traced")
        for query in queries {
            let plan = try await store.writer.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query).map { $0["detail"] as String } }
            // Walking a table in rowid order under a LIMIT (the newest N) reads N rows.
            if query.range(of: #"ORDER BY "id" DESC LIMIT \d+$"#, options: .regularExpression) != nil, plan.count == 1 { continue }
            let scans = plan.filter { detail in
                Self.historyTables.contains { table in detail == "SCAN \(table)" || detail.hasPrefix("SCAN \(table) AS ") || detail.hasPrefix("SCAN \(table) ") && !detail.contains("USING") }
            }
            #expect(scans.isEmpty, "full scan in \(query.prefix(300)): \(scans)")
        }
    }

    final class Statements: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func append(_ statement: String) { lock.withLock { items.append(statement) } }
        var all: [String] { lock.withLock { items } }
    }
}
