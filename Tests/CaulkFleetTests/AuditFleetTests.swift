import CaulkAPI
import CaulkDomain
import CaulkSSH
import CaulkStore
import Foundation
import Synchronization
import Testing

/// Audits of a lab cluster with faults injected, real reboots and unreachable
/// nodes. Every test leaves `Lab.auditCluster` healthy again.
@Suite(.serialized) struct AuditFleetTests {
    static let executor = SSHExecutor(threads: 64)
    static let cluster = Lab.auditCluster
    static func node(_ index: Int) -> String { "\(cluster)-n\(index)" }

    struct Fixture {
        let store: Store
        let inventory: InventoryService
        let audits: AuditService
        let reboots: RebootService
    }

    func fixture(clock: @escaping @Sendable () -> Date = Date.init) async throws -> Fixture {
        let (store, inventory, _) = try await Lab.services(executor: Self.executor)
        let audits = AuditService(store: store, executor: Self.executor, library: try PlaybookLibrary())
        return Fixture(store: store, inventory: inventory, audits: audits, reboots: RebootService(store: store))
    }

    func audit(_ fixture: Fixture) async throws -> AuditResult {
        let started = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "test", trigger: .api)
        await fixture.audits.waitForAll()
        let run = try #require(started.runs.first)
        #expect(try await fixture.store.run(id: run.id)?.0.status == .succeeded)
        return try await fixture.audits.result(runId: run.id)
    }

    /// Clears every fault, lifts SSH filters and waits until the overlay carries TCP everywhere.
    static func restore() throws {
        for index in 1...6 {
            Lab.unfilterSSH(node(index))
            try Lab.lab("clear", node(index))
        }
        try Lab.lab("verify", cluster, "--wait", "40")
    }

    @Test func faultsAreReportedOnTheirNodesAndHealthyNodesStayClean() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        let vmxnet3 = try await fixture.inventory.nodes(cluster: Self.cluster, labels: ["nic=vmxnet3"]).items.map(\.name)
        try #require(vmxnet3.contains(Self.node(2)), "the lab gives vmxnet3 to RHEL 9 workers first")

        let clean = try await audit(fixture)
        #expect(clean.nodes.count == 6 && clean.nodes.allSatisfy { $0.health == .healthy }, "\(clean.nodes.map { ($0.node, $0.health) })")
        #expect(Lab.serious(clean).keys.sorted() == ["(cluster)"] && Lab.serious(clean)["(cluster)"] == ["F8"], "\(Lab.serious(clean))")

        try Lab.lab("inject", "offload", Self.node(2))
        try Lab.lab("inject", "stale-vxlan", Self.node(3))
        try Lab.lab("inject", "firewall", Self.node(5))
        try Lab.lab("inject", "rp-filter", Self.node(6))
        var result = try await audit(fixture)
        var serious = Lab.serious(result)
        #expect(serious[Self.node(2)] == ["F2"], "\(serious)")
        #expect(serious[Self.node(3)]?.isSuperset(of: ["F1", "DP"]) == true, "\(serious)")
        #expect(serious[Self.node(5)] == ["F4", "DP"], "\(serious)")
        for healthy in [1, 4, 6] { #expect(serious[Self.node(healthy)] == nil, "\(Self.node(healthy)): \(serious)") }
        #expect(result.findings.contains { $0.node == Self.node(6) && $0.check == "F7" && $0.severity == .info })
        let icmpOnly = result.findings.first { $0.node == Self.node(2) && $0.message.contains("ICMP crosses the overlay but TCP does not") }
        #expect(icmpOnly != nil, "the probe shows F2's fingerprint on \(Self.node(2))")
        #expect(result.nodes.first { $0.node == Self.node(3) }?.health == .broken)
        #expect(result.findings.first { $0.check == "F1" }?.repair == "vxlan-reset")

        try Self.restore()
        try Lab.lab("inject", "missing-routes", Self.node(3))
        try Lab.lab("inject", "mtu", Self.node(4))
        try Lab.lab("inject", "nm", Self.node(5))
        try Lab.filterSSH(Self.node(6), "reject with tcp reset")
        result = try await audit(fixture)
        serious = Lab.serious(result)
        #expect(serious[Self.node(3)]?.isSuperset(of: ["F3", "DP"]) == true, "\(serious)")
        #expect(serious[Self.node(4)] == ["F5"], "\(serious)")
        #expect(serious[Self.node(5)]?.isSuperset(of: ["F6", "F1"]) == true, "\(serious)")
        #expect(serious[Self.node(6)] == ["SSH"], "\(serious)")
        #expect(result.nodes.first { $0.node == Self.node(6) }?.health == .unreachable, "an unreachable node is never healthy")
        for healthy in [1, 2] { #expect(serious[Self.node(healthy)] == nil, "\(Self.node(healthy)): \(serious)") }
        #expect(result.state == .broken)
        let health = try await fixture.audits.health(cluster: Self.cluster)
        #expect(health.state == .broken && health.result?.findings == result.findings)
    }

    @Test func everyRebootIsRecordedOnceWhetherTheAuditOrTheBeaconSeesItFirst() async throws {
        try Self.restore()
        let fixture = try await fixture()
        let node = try await fixture.inventory.node(cluster: Self.cluster, name: Self.node(4))
        func events() async throws -> [RebootEvent] {
            try await fixture.reboots.list(cluster: Self.cluster, node: node.name, paging: Paging()).items
        }
        func announce() async throws -> BootRecorded {
            let fields = try Lab.ssh(node.address, "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f1 /proc/uptime").split(separator: "\n")
            return try await fixture.reboots.announce(cluster: Self.cluster, node: node.name, BootAnnouncement(bootId: String(fields[0]), uptimeSeconds: Double(fields[1])))
        }
        _ = try await audit(fixture)
        #expect(try await events().isEmpty, "the first audit only notes each node's boot")

        try Lab.lab("reboot", node.name)
        #expect(try await announce().recorded)
        _ = try await audit(fixture)
        #expect(try await events().map(\.source) == ["beacon"])

        try Lab.lab("reboot", node.name)
        _ = try await audit(fixture)
        #expect(try await announce().recorded == false)
        let all = try await events()
        #expect(all.map(\.source) == ["audit", "beacon"])
        #expect(all[0].oldBootId == all[1].newBootId && all[0].bootedAt! > all[1].bootedAt!)
        #expect(try await fixture.reboots.list(cluster: Self.cluster, node: nil, paging: Paging()).items.count == 2, "no other node rebooted")
    }

    @Test func aScheduleRunsWhenDueOnceAfterDowntimeAndNotWhilePaused() async throws {
        try Self.restore()
        // Ten seconds past a minute boundary, so "due" never hinges on a second.
        let now = Mutex(Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 + 10))
        let clock: @Sendable () -> Date = { now.withLock { $0 } }
        let fixture = try await fixture()
        let schedules = ScheduleService(store: fixture.store, audits: fixture.audits, clock: clock)
        let added = try await schedules.add(ScheduleCreate(name: "every-minute", cron: "*/1 * * * *", cluster: Self.cluster), requester: "test")
        #expect(added.nextRunAt > clock() && added.nextRunAt <= clock().addingTimeInterval(60))

        func tick(after seconds: TimeInterval) async throws -> Int {
            now.withLock { $0 = $0.addingTimeInterval(seconds) }
            let started = try await schedules.runDue { _ in }
            await fixture.audits.waitForAll()
            return started
        }
        #expect(try await tick(after: 0) == 0)
        #expect(try await tick(after: 61) == 1)
        #expect(try await tick(after: 1) == 0, "not due again until the next minute")
        #expect(try await tick(after: 60) == 1)
        #expect(try await tick(after: 3600) == 1, "an hour of missed slots is one catch-up run")
        _ = try await schedules.update(name: "every-minute", ScheduleUpdate(paused: true), by: "test")
        #expect(try await tick(after: 600) == 0)
        let resumed = try await schedules.update(name: "every-minute", ScheduleUpdate(paused: false), by: "test")
        #expect(resumed.nextRunAt > clock(), "resuming does not replay the paused slots")

        let runs = try await fixture.store.runs(cluster: Self.cluster, kind: .audit, before: nil, limit: 10)
        #expect(runs.count == 3 && runs.allSatisfy { $0.trigger == .schedule && $0.requester == "schedule:every-minute" && $0.status == .succeeded })
        for run in runs {
            #expect(try await fixture.audits.result(runId: run.id!).nodes.count == 6)
            #expect(try await !fixture.store.audit(runId: run.id!).findings.isEmpty, "F8 is a finding on every lab cluster")
        }
    }

    @Test func aSecondAuditOfTheSameClusterIsAConflictWhileTheFirstRuns() async throws {
        let fixture = try await fixture()
        let first = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "a", trigger: .api)
        await #expect(throws: DomainError.self) {
            _ = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "b", trigger: .api)
        }
        let all = try await fixture.audits.start(AuditRequest(all: true), requester: "b", trigger: .api)
        #expect(all.skipped.count == 1 && all.skipped[0].contains("run \(first.runs[0].id)") && all.skipped[0].contains("started by a"))
        await fixture.audits.waitForAll()
    }
}
