import CaulkAPI
import CaulkDomain
import CaulkSSH
import CaulkStore
import Foundation
import Testing

/// Whole-cluster repairs of a lab cluster with faults injected: the overlay must
/// carry TCP between every pair of nodes afterwards, and nodes without a finding must never be
/// touched. Every test leaves `Lab.repairCluster` healthy, with its cluster objects as they were.
@Suite(.serialized) struct RepairFleetTests {
    static let executor = SSHExecutor(threads: 64)
    static let cluster = Lab.repairCluster
    static func node(_ index: Int) -> String { "\(cluster)-n\(index)" }
    static let controlPlane = "198.18.5.1"

    func fixture() async throws -> Lab.Repairs { try await Lab.Repairs(executor: Self.executor) }

    func repair(_ fixture: Lab.Repairs, _ request: RepairRequest = RepairRequest()) async throws -> (RunRecord, RepairResult) {
        try await fixture.repair(Self.cluster, request)
    }

    /// Clears every fault and repair side effect: the Felix override, `veth_mtu`, test filters.
    static func restore() throws {
        _ = try? Lab.run("/usr/sbin/nft", "delete", "table", "bridge", "caulktest")
        _ = try Lab.ssh(controlPlane, """
            kubectl patch felixconfiguration default --type json -p '[{"op":"remove","path":"/spec/featureDetectOverride"}]' >/dev/null 2>&1
            kubectl -n kube-system patch configmap calico-config --type merge -p '{"data":{"veth_mtu":"0"}}' >/dev/null
            """)
        for index in 1...6 { try Lab.lab("clear", node(index)) }
        try Lab.lab("verify", cluster, "--wait", "40")
    }

    @Test func recoverBringsBackAMixOfFaultsAndTouchesOnlyTheBrokenNodes() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        try #require(try Lab.status(Self.cluster)[Self.node(2)]?.vmxnet3 == true)
        try Lab.lab("inject", "offload", Self.node(2))
        try Lab.lab("inject", "stale-vxlan", Self.node(3))
        try Lab.lab("inject", "firewall", Self.node(5))
        try Lab.lab("inject", "nm", Self.node(6))
        let before = try Lab.status(Self.cluster)
        let trail = try Lab.apiAuditTrail(Self.cluster).count

        let (run, result) = try await repair(fixture)

        #expect(run.status == .succeeded, "\(result.message ?? "-")")
        #expect(result.state == .healthy && result.auditBefore != nil && result.auditAfter != nil)
        let outcomes = Dictionary(uniqueKeysWithValues: result.nodes.map { ($0.node, $0.outcome) })
        #expect(outcomes == [Self.node(2): .recovered, Self.node(3): .recovered, Self.node(5): .recovered, Self.node(6): .recovered], "\(result.nodes)")
        #expect(result.nodes.first { $0.node == Self.node(6) }?.repairs.first == "nm-unmanaged", "NetworkManager is told first")
        // The one check that tells the truth: TCP between every pair, every calico-node pod Ready.
        try Lab.lab("verify", Self.cluster, "--wait", "10")

        let after = try Lab.status(Self.cluster)
        for healthy in [1, 4] {
            #expect(after[Self.node(healthy)]?.pod?.pod == before[Self.node(healthy)]?.pod?.pod, "\(Self.node(healthy)) had no finding: its pod stays")
        }
        let deleted = try Lab.deletedPods(Self.cluster, from: trail)
        let untouchable = Set([1, 4].compactMap { before[Self.node($0)]?.pod?.pod })
        #expect(!deleted.isEmpty && untouchable.isDisjoint(with: deleted), "deleted \(deleted)")
        #expect(try Lab.apiAuditTrail(Self.cluster).dropFirst(trail).allSatisfy { !$0.contains("daemonsets") }, "no rollout of every node")

        #expect(result.steps.contains { $0.node == nil && $0.repair == "offload-off" && $0.host == Self.node(1) && $0.outcome == .ok })
        let reset = result.steps.filter { $0.node == Self.node(3) && $0.repair == "vxlan-reset" }
        #expect(!reset.isEmpty && reset.allSatisfy { $0.outcome == .ok && !$0.command.contains("{{") })
        #expect(result.steps.contains { $0.node == Self.node(3) && $0.step == "tcp-probe" && $0.outcome == .ok })
        #expect(result.steps.allSatisfy { $0.node == nil || [2, 3, 5, 6].map(Self.node).contains($0.node!) })
    }

    @Test func aDryRunShowsEveryCommandAndChangesNothingAndASecondRepairIsRefused() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        try Lab.lab("inject", "stale-vxlan", Self.node(3))
        try Lab.lab("inject", "firewall", Self.node(5))
        let trail = try Lab.apiAuditTrail(Self.cluster).count

        let (run, plan) = try await repair(fixture, RepairRequest(dryRun: true))

        #expect(run.status == .succeeded && run.dryRun && plan.dryRun)
        #expect(plan.nodes.map(\.node) == [Self.node(3), Self.node(5)] && plan.nodes.allSatisfy { $0.outcome == .planned })
        #expect(plan.steps.allSatisfy { $0.outcome == .planned })
        let commands = plan.steps.filter { $0.node == Self.node(3) }
        #expect(commands.contains { $0.host == Self.node(3) && $0.command.contains("ip link del dev vxlan.calico") })
        #expect(commands.contains { $0.host == Self.node(1) && $0.command.contains("kubectl") && $0.command.contains("'\(Self.node(3))'") })
        #expect(plan.steps.contains { $0.node == Self.node(5) && $0.command.contains("firewall-cmd") })
        #expect(try Lab.apiAuditTrail(Self.cluster).count == trail, "no call changed the cluster")
        let status = try Lab.status(Self.cluster)
        #expect(status[Self.node(3)]?.faults.contains("stale-vxlan") == true && status[Self.node(5)]?.faults.contains("firewall") == true)

        let first = try await fixture.repairs.start(RepairRequest(), cluster: Self.cluster, requester: "alice", trigger: .cli)
        do {
            _ = try await fixture.repairs.start(RepairRequest(), cluster: Self.cluster, requester: "bob", trigger: .cli)
            Issue.record("a second repair of the same cluster started")
        } catch DomainError.conflict(let message) {
            #expect(message.contains("already being repaired by run \(first.id)") && message.contains("alice"), "\(message)")
        }
        _ = try await fixture.repairs.start(RepairRequest(dryRun: true), cluster: Self.cluster, requester: "bob", trigger: .cli)
        await fixture.repairs.waitForAll()
        #expect(try await fixture.store.run(id: first.id)?.0.status == .succeeded)
    }

    @Test func aNodeThatDoesNotRecoverStopsTheRolloutAndTheRestIsLeftAlone() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        try Lab.lab("inject", "stale-vxlan", Self.node(2))
        try Lab.lab("inject", "stale-vxlan", Self.node(5))
        // n3's VXLAN packets vanish on the wire, where nothing on the node can see or mend it.
        try Lab.run("/bin/sh", "-c", """
            nft add table bridge caulktest && nft add chain bridge caulktest forward '{ type filter hook forward priority 0; }' \
              && nft add rule bridge caulktest forward iifname cl5n3 udp dport 4789 drop
            """)

        let (run, result) = try await repair(fixture, RepairRequest(verifyTimeout: 10))

        #expect(run.status == .failed)
        let outcomes = Dictionary(uniqueKeysWithValues: result.nodes.map { ($0.node, $0.outcome) })
        #expect(outcomes == [Self.node(2): .recovered, Self.node(3): .failed, Self.node(5): .skipped], "\(result.nodes)")
        let failed = try #require(result.nodes.first { $0.node == Self.node(3) })
        #expect(failed.reason?.contains("the overlay fails to") == true && failed.reason?.contains("TCP fails") == true, "\(failed.reason ?? "-")")
        #expect(result.message?.contains("rollout stopped") == true && result.message?.contains(Self.node(5)) == true, "\(result.message ?? "-")")
        #expect(!result.steps.contains { $0.node == Self.node(5) }, "nothing ran on the node after the failure")
        #expect(try Lab.status(Self.cluster)[Self.node(5)]?.faults.contains("stale-vxlan") == true)
        #expect(result.auditAfter != nil && result.state == .broken)
    }

    @Test func withAutoRepairOnABuggyRebootIsFollowedByAHealthyClusterWithoutAnyoneActing() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        _ = try await fixture.autoRepairs.update(cluster: Self.cluster, AutoRepairPolicyUpdate(enabled: true, delaySeconds: 5), by: "test")
        let loop = Task { await fixture.autoRepairs.run { _ in } }
        defer { loop.cancel() }
        // The first audit notes each node's boot; a scheduled audit then sees the new one.
        _ = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "schedule", trigger: .schedule)
        await fixture.audits.waitForAll()
        try Lab.lab("reboot", Self.node(4), "--buggy")
        try await Task.sleep(for: .seconds(3))
        _ = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "schedule", trigger: .schedule)
        await fixture.audits.waitForAll()
        #expect(try await fixture.store.rebootEvents(cluster: Self.cluster, node: Self.node(4), before: nil, limit: 5).count == 1)

        var decision: AutoRepairDecision?
        for _ in 0..<240 {
            decision = try await fixture.autoRepairs.decisions(cluster: Self.cluster, paging: Paging()).items.first
            if let state = decision?.decision, state != .pending, state != .running { break }
            try await Task.sleep(for: .seconds(1))
        }
        let decided = try #require(decision)
        #expect(decided.decision == .repaired && decided.node == Self.node(4), "\(decided)")
        let repairRun = try #require(decided.repairRunId)
        #expect(try await fixture.store.run(id: repairRun)?.0.trigger == .auto)
        #expect(try await fixture.repairs.result(runId: repairRun).nodes.map(\.node) == [Self.node(4)])
        try Lab.lab("verify", Self.cluster, "--wait", "10")
    }

    /// As a new user would: audit, reboot three nodes (one plainly, two into faults), audit,
    /// repair; then the reports name exactly those reboots and recoveries.
    @Test func reportsNameTheRebootsTheFaultsAndTheRecoveries() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        _ = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "test", trigger: .cli)
        await fixture.audits.waitForAll()
        try Lab.lab("reboot", Self.node(2))
        try Lab.lab("reboot", Self.node(4), "--buggy")
        try Lab.lab("reboot", Self.node(5), "--buggy")
        try await Task.sleep(for: .seconds(3))
        _ = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "test", trigger: .cli)
        await fixture.audits.waitForAll()
        let (run, result) = try await repair(fixture)
        #expect(run.status == .succeeded && result.state == .healthy, "\(result.message ?? "-")")
        #expect(Set(result.nodes.filter { $0.outcome == .recovered }.map(\.node)) == [Self.node(4), Self.node(5)], "\(result.nodes)")

        let reports = ReportService(store: fixture.store, library: try PlaybookLibrary())
        let only = [Self.cluster]
        let reboots = try await reports.report(.reboots, since: "1h", until: nil, clusters: only, groupBy: nil)
        #expect(reboots.rows == [[.string(Self.cluster), .int(3), .int(3), .int(1)]], "\(reboots.rows)")
        let after = try await reports.report(.postReboot, since: "1h", until: nil, clusters: only, groupBy: nil)
        #expect(after.rows.first.map { Array($0[1...5]) } == [.int(3), .int(3), .int(2), .int(67), .int(2)], "n4 and n5 faulty, both recovered: \(after.rows)")
        let mttr = try await reports.report(.mttr, since: "1h", until: nil, clusters: only, groupBy: nil)
        let row = try #require(mttr.rows.first)
        // incidents, after_reboot, recovered; repairs (the one run, on both nodes); unrecovered.
        #expect([row[1], row[2], row[3], row[7], row[8]] == [.int(2), .int(2), .int(2), .int(2), .int(0)], "\(mttr.rows)")
        if case .int(let median) = row[4] { #expect(median > 0 && median < 3600, "recovered within the repair: \(median) s") } else { Issue.record("no median: \(row)") }
        #expect(mttr.details?.rows.isEmpty == true)
        let repairs = try await reports.report(.repairs, since: "1h", until: nil, clusters: only, groupBy: nil)
        #expect(repairs.rows == [[.string("calico-recover"), .int(1), .int(1), .int(0), .int(0), .int(0), .int(100), .int(2), .int(2), .int(0)]], "\(repairs.rows)")
        let risk = try await reports.report(.risk, since: nil, until: nil, clusters: only, groupBy: nil)
        #expect(!risk.rows.contains { $0[2] == .string("-") }, "the last audit read every node: \(risk.rows)")
    }
}
