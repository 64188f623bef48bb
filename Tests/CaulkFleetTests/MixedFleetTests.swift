import CaulkAPI
import CaulkDomain
import CaulkSSH
import CaulkStore
import Foundation
import Testing

/// Audit → repair → verify on a cluster set up unlike our defaults, the way fleets built elsewhere
/// are (`Lab.mixedCluster`): the inventory's short names are not the Kubernetes Node names, Nodes
/// carry no VXLAN MAC, every node has a 7 MiB nftables ruleset, Calico came from the operator, and
/// root may not log in: caulk works as `caulk` through `sudo -n`.
/// The lab's own verify (TCP and a full-size DF packet between every pair of nodes, every
/// calico-node Ready) is the judge, not caulk's audit.
@Suite(.serialized) struct MixedFleetTests {
    static let executor = SSHExecutor(threads: 64)
    static let cluster = Lab.mixedCluster
    static func node(_ index: Int) -> String { "\(cluster)-n\(index)" }
    static func kubernetesName(_ index: Int) -> String { "\(node(index)).lab.example" }
    static let controlPlane = "198.18.6.1"

    func fixture() async throws -> Lab.Repairs { try await Lab.Repairs(executor: Self.executor) }

    func audit(_ fixture: Lab.Repairs) async throws -> AuditResult {
        let started = try await fixture.audits.start(AuditRequest(clusters: [Self.cluster]), requester: "test", trigger: .api)
        await fixture.audits.waitForAll()
        return try await fixture.audits.result(runId: try #require(started.runs.first).id)
    }

    func repair(_ fixture: Lab.Repairs) async throws -> (RunRecord, RepairResult) {
        try await fixture.repair(Self.cluster)
    }

    /// kubectl on the control-plane node, as the lab's sudo user.
    @discardableResult
    static func kubectl(_ arguments: String) throws -> String {
        try Lab.ssh(controlPlane, "sudo -n kubectl --kubeconfig /etc/kubernetes/admin.conf \(arguments)", user: "caulk")
    }

    /// Whether sudo asks the lab's `caulk` user for a password on a node (its own /etc).
    static func sudoWantsPassword(_ index: Int, _ wants: Bool) throws {
        let edit = wants ? "s/NOPASSWD: //" : "s/) ALL/) NOPASSWD: ALL/"
        try Lab.lab("exec", node(index), "sed -i '\(edit)' /etc/sudoers.d/caulk-lab && cat /etc/sudoers.d/caulk-lab")
    }

    /// Every fault cleared, sudo without a password again and the operator's MTU unset, so Felix
    /// makes 1450-byte devices again.
    static func restore() throws {
        for index in 1...6 { try sudoWantsPassword(index, false) }
        _ = try? kubectl(#"patch installations.operator.tigera.io default --type json -p '[{"op":"remove","path":"/spec/calicoNetwork/mtu"}]'"#)
        _ = try? kubectl(#"patch felixconfiguration default --type json -p '[{"op":"remove","path":"/spec/featureDetectOverride"}]'"#)
        for index in 1...6 { try Lab.lab("clear", node(index)) }
        try Lab.lab("verify", cluster, "--wait", "60")
    }

    @Test func aFleetUnlikeOursIsAuditedWholeRepairedWithTheLeastDisruptionAndStaysFixedAfterAReboot() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()

        let clean = try await audit(fixture)
        #expect(clean.nodes.count == 6 && clean.nodes.allSatisfy { $0.health == .healthy }, "\(clean.nodes.map { ($0.node, $0.health) }): \(clean.findings)")
        #expect(Lab.serious(clean).isEmpty, "no UNKNOWN, IDENTITY or other warning on a healthy cluster: \(Lab.serious(clean))")
        #expect(clean.facts?.kubernetesNames == Dictionary(uniqueKeysWithValues: (1...6).map { (Self.node($0), Self.kubernetesName($0)) }))
        #expect(clean.nodes.allSatisfy { ($0.facts?.probes?.count ?? 0) == 5 && $0.facts?.probes?.allSatisfy { $0.passed && $0.fullSize == true } == true },
                "every node probed every peer, full size included")

        try Lab.lab("inject", "stale-vxlan", Self.node(3))
        try Lab.lab("inject", "firewall", Self.node(5))
        let broken = try await audit(fixture)
        let serious = Lab.serious(broken)
        #expect(serious[Self.node(3)]?.contains("F1") == true, "\(serious)")
        #expect(serious[Self.node(5)]?.contains("F4") == true && serious[Self.node(5)]?.contains("UNKNOWN") != true, "\(serious)")
        for healthy in [1, 2, 4, 6] { #expect(serious[Self.node(healthy)] == nil, "\(Self.node(healthy)): \(serious)") }
        #expect(!broken.findings.contains { $0.node == Self.node(5) && $0.repair == "vxlan-reset" }, "the firewall explains n5's probe failures")

        let before = try Lab.status(Self.cluster)
        let trail = try Lab.apiAuditTrail(Self.cluster).count
        let (run, result) = try await repair(fixture)
        #expect(run.status == .succeeded, "\(result.message ?? "-")")
        let outcomes = Dictionary(uniqueKeysWithValues: result.nodes.map { ($0.node, $0.outcome) })
        #expect(outcomes == [Self.node(3): .recovered, Self.node(5): .recovered], "\(result.nodes)")
        #expect(result.nodes.first { $0.node == Self.node(5) }?.repairs == ["firewall-open"])
        let deleted = try Lab.deletedPods(Self.cluster, from: trail)
        #expect(deleted == [before[Self.node(3)]?.pod?.pod].compactMap { $0 }, "only n3's calico-node was restarted, found by its Kubernetes name: \(deleted)")
        #expect(result.steps.contains { $0.node == Self.node(3) && $0.step == "restart-calico-node" && $0.command.contains("'\(Self.kubernetesName(3))'") })

        var verdict = try Lab.verify(Self.cluster, wait: 10)
        #expect(verdict.ok, "\(verdict.pairs.filter { !$0.tcp || !$0.fullSize })")

        // A plain reboot of the repaired nodes leaves the cluster passing without another repair.
        try Lab.lab("reboot", Self.node(3))
        try Lab.lab("reboot", Self.node(5))
        verdict = try Lab.verify(Self.cluster, wait: 30)
        #expect(verdict.ok, "\(verdict.pairs.filter { !$0.tcp || !$0.fullSize })")

        // The next audit notices both reboots, and reports count them under what the cluster ran
        // then: the operator's Calico (another version than our default) over VXLAN.
        _ = try await audit(fixture)
        let reports = ReportService(store: fixture.store, library: try PlaybookLibrary())
        let byVersion = try await reports.report(.reboots, since: "1d", until: nil, clusters: [Self.cluster], groupBy: .calicoVersion)
        #expect(byVersion.rows.count == 1 && byVersion.rows[0].first?.description.contains("3.27.3") == true, "\(byVersion.rows)")
        #expect(byVersion.rows.first.map { Array($0.dropFirst()) } == [.int(2), .int(2), .int(1)], "n3 and n5 rebooted once each: \(byVersion.rows)")
        let byEncapsulation = try await reports.report(.reboots, since: "1d", until: nil, clusters: [Self.cluster], groupBy: .encapsulation)
        #expect(byEncapsulation.rows.map { $0.first } == [.string("vxlan")], "\(byEncapsulation.rows)")
        // Repaired nodes survive a plain reboot: the audit after it judged both and found no fault.
        let afterwards = try await reports.report(.postReboot, since: "1d", until: nil, clusters: [Self.cluster], groupBy: .encapsulation)
        #expect(afterwards.rows == [[.string("vxlan"), .int(2), .int(2), .int(0), .int(0), .int(0), .string("")]], "\(afterwards.rows)")
    }

    /// sudo that wants a password on one node: that node says so and nothing runs there, the
    /// others are audited and repaired as usual.
    @Test func aNodeWhereSudoWantsAPasswordSaysSoAndIsLeftAlone() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        try Self.sudoWantsPassword(4, true)
        try Lab.lab("inject", "firewall", Self.node(5))

        let result = try await audit(fixture)
        let refused = try #require(result.findings.first { $0.node == Self.node(4) && $0.check == "SUDO" }, "\(result.findings)")
        #expect(refused.message.contains("a password is required") && refused.message.contains("NOPASSWD"), "\(refused.message)")
        #expect(result.nodes.first { $0.node == Self.node(4) }?.health == .unreachable, "a node caulk cannot act on is never healthy")
        #expect(Lab.serious(result)[Self.node(5)]?.contains("F4") == true, "the other nodes are audited through sudo as usual")

        let (run, repaired) = try await repair(fixture)
        #expect(run.status == .failed, "the cluster cannot be healthy while n4 is not audited: \(repaired.message ?? "-")")
        let outcomes = Dictionary(uniqueKeysWithValues: repaired.nodes.map { ($0.node, $0.outcome) })
        #expect(outcomes[Self.node(5)] == .recovered && outcomes[Self.node(4)] == .skipped, "\(repaired.nodes)")
        #expect(repaired.nodes.first { $0.node == Self.node(4) }?.reason?.contains("no command can run there as root") == true)
        #expect(!repaired.steps.contains { $0.host == Self.node(4) })
    }

    /// A smaller NIC MTU on one node: handshakes pass, full-size packets into it do not. The fix
    /// is a new cluster MTU on every node, set in the operator's Installation.
    @Test func anMTUBlackHoleIsFoundByFullSizePacketsAndFixedOnEveryNode() async throws {
        try Self.restore()
        defer { try? Self.restore() }
        let fixture = try await fixture()
        try Lab.lab("inject", "mtu", Self.node(4))

        let found = try await audit(fixture)
        #expect(Lab.serious(found)[Self.node(4)]?.contains("F5") == true, "\(Lab.serious(found))")
        #expect(!found.findings.contains { $0.repair == "vxlan-reset" }, "an MTU fault earns no device reset: \(found.findings)")

        let (run, result) = try await repair(fixture)
        #expect(run.status == .succeeded, "\(result.message ?? "-")")
        #expect(Set(result.nodes.map(\.node)) == Set((1...6).map(Self.node)) && result.nodes.allSatisfy { $0.repairs == ["mtu-align"] },
                "the plan names the cluster-wide change and every node takes it: \(result.nodes)")
        #expect(result.steps.contains { $0.node == nil && $0.step == "cluster-mtu" && $0.stdout.contains("Installation default") && $0.stdout.contains("1350") })
        let verdict = try Lab.verify(Self.cluster, wait: 10)
        #expect(verdict.ok && verdict.pairs.allSatisfy(\.fullSize), "\(verdict.pairs.filter { !$0.tcp || !$0.fullSize })")
    }
}
