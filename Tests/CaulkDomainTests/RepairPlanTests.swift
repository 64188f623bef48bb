import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

/// Which repairs `calico-recover` (and a repair named on its own) chooses from an audit.
@Suite struct RepairPlanTests {
    static let library = Result { try PlaybookLibrary() }
    static let nodes = (1...6).map {
        NodeRecord(
            id: Int64($0), clusterId: 1, name: "c-n\($0)", address: "198.18.9.\($0)", role: $0 == 1 ? .controlPlane : .worker, labels: [:],
            sshUser: nil, sshPort: nil, sshKey: nil, bastion: nil, hostKey: nil, createdAt: Date(), updatedAt: Date())
    }

    static func finding(_ check: String, _ node: String?, _ severity: Severity = .critical, repair: String?) -> Finding {
        Finding(check: check, severity: severity, node: node, message: "\(check) found", evidence: "", repair: repair)
    }

    /// Every node matched to its Kubernetes Node (FQDN-named), unless `unmatched`.
    static func audit(_ findings: [Finding], unmatched: Set<String> = []) -> AuditResult {
        var facts = ClusterFacts()
        facts.kubernetesNames = Dictionary(uniqueKeysWithValues: nodes.map(\.name).filter { !unmatched.contains($0) }.map { ($0, "\($0).dc.example") })
        return AuditResult(state: .broken, nodes: [], findings: findings, facts: facts)
    }

    func plan(_ playbook: String, _ findings: [Finding], only: [String]? = nil, unmatched: Set<String> = []) throws -> RepairPlan {
        let library = try Self.library.get()
        return RepairPlan.make(
            try library.playbook(playbook, kind: .repair), library: library, audit: Self.audit(findings, unmatched: unmatched), nodes: Self.nodes, only: only)
    }

    @Test func aNodeWhoseEvidenceIsIncompleteGetsNoDisruptiveRepair() throws {
        let plan = try plan("calico-recover", [
            Self.finding("F1", "c-n2", repair: "vxlan-reset"),
            Self.finding("UNKNOWN", "c-n2", .warning, repair: nil),
            Self.finding("F1", "c-n3", repair: "vxlan-reset"),
            Self.finding("F4", "c-n3", repair: "firewall-open"),
            Self.finding("F1", "c-n4", repair: "vxlan-reset"),
        ], unmatched: ["c-n3"])
        let byNode = Dictionary(uniqueKeysWithValues: plan.nodes.map { ($0.node.name, $0) })
        #expect(byNode["c-n2"]?.repairs.isEmpty == true && byNode["c-n2"]?.skip?.contains("evidence incomplete, so vxlan-reset (disruptive) is not run") == true, "\(byNode["c-n2"]?.skip ?? "-")")
        #expect(byNode["c-n3"]?.repairs.map(\.name) == ["firewall-open"], "a gentle repair still runs")
        #expect(byNode["c-n3"]?.held?.contains("vxlan-reset (disruptive) is not run: no Kubernetes Node is known for it") == true, "and the plan says what it held back")
        #expect(byNode["c-n4"]?.repairs.map(\.name) == ["vxlan-reset"])
        #expect(try self.plan("calico-recover", [Self.finding("F1", "c-n5", repair: "vxlan-reset")], unmatched: ["c-n5"]).nodes.first?.skip?
            .contains("no Kubernetes Node is known for it") == true)
    }

    /// A new cluster MTU reaches every node: one left on the old MTU keeps sending frames the
    /// smaller NIC drops. Unreachable nodes are reported, not tried.
    @Test func anMTUChangeRollsEveryReachableNode() throws {
        let plan = try plan("calico-recover", [
            Self.finding("F5", "c-n3", repair: "mtu-align"),
            Self.finding("F4", "c-n4", repair: "firewall-open"),
            Self.finding("SSH", "c-n6", repair: nil),
        ])
        #expect(plan.clusterRepairs.map(\.name) == ["mtu-align"])
        #expect(plan.rollout.map(\.node.name) == ["c-n1", "c-n2", "c-n3", "c-n4", "c-n5"])
        #expect(plan.rollout.allSatisfy { $0.repairs.contains { $0.name == "mtu-align" } })
        #expect(plan.rollout.first { $0.node.name == "c-n4" }?.repairs.map(\.name) == ["firewall-open", "mtu-align"])
        #expect(plan.rollout.first { $0.node.name == "c-n1" }?.findings == ["cluster-wide mtu-align"])
        #expect(plan.nodes.first { $0.node.name == "c-n6" }?.skip?.hasPrefix("not reachable over SSH") == true)
    }

    @Test func recoverPicksEachNodesOwnRepairsInASafeOrderAndLeavesHealthyNodesAlone() throws {
        let plan = try plan("calico-recover", [
            Self.finding("F1", "c-n3", repair: "vxlan-reset"),
            Self.finding("F6", "c-n3", .warning, repair: "nm-unmanaged"),
            Self.finding("F4", "c-n5", repair: "firewall-open"),
            Self.finding("DP", "c-n5", repair: "vxlan-reset"),
            Self.finding("F2", "c-n2", repair: "offload-off"),
            Self.finding("F7", "c-n4", .info, repair: "rp-filter-loose"),
            Self.finding("K8S", "c-n6", .info, repair: nil),
        ])
        #expect(plan.rollout.map(\.node.name) == ["c-n2", "c-n3", "c-n5"])
        #expect(plan.nodes.allSatisfy { $0.skip == nil }, "info findings put no node in the plan")
        let repairs = Dictionary(uniqueKeysWithValues: plan.rollout.map { ($0.node.name, $0.repairs.map(\.name)) })
        // NetworkManager before the device reset (else it takes the new device down), firewall before the probe.
        #expect(repairs == ["c-n2": ["offload-off"], "c-n3": ["nm-unmanaged", "vxlan-reset"], "c-n5": ["firewall-open", "vxlan-reset"]])
        #expect(plan.clusterRepairs.map(\.name) == ["offload-off"], "the override goes in before any node")
        #expect(plan.disruptive)
        #expect(!plan.after.isEmpty, "calico-recover waits for the calico-node pods at the end")
    }

    @Test func aClusterWideRiskAloneChangesTheClusterButNoNode() throws {
        let plan = try plan("calico-recover", [Self.finding("F8", nil, .warning, repair: "offload-off")])
        #expect(plan.rollout.isEmpty)
        #expect(plan.clusterRepairs.map(\.name) == ["offload-off"])
    }

    @Test func whatCannotBeRepairedIsReportedNotTouched() throws {
        let plan = try plan("calico-recover", [
            Self.finding("SSH", "c-n4", repair: nil),
            Self.finding("F1", "c-n2", repair: "vxlan-reset"),
        ])
        #expect(plan.rollout.map(\.node.name) == ["c-n2"])
        let skipped = try #require(plan.nodes.first { $0.node.name == "c-n4" })
        #expect(skipped.repairs.isEmpty && skipped.skip?.hasPrefix("not reachable over SSH") == true, "\(skipped.skip ?? "-")")
        #expect(try self.plan("calico-recover", []).isEmpty)
    }

    @Test func aNamedRepairRunsOnlyWhereItsFindingsAreAndOptInsNeedNaming() throws {
        let findings = [
            Self.finding("F1", "c-n3", repair: "vxlan-reset"),
            Self.finding("F7", "c-n4", .warning, repair: "rp-filter-loose"),
        ]
        let reset = try plan("vxlan-reset", findings)
        #expect(reset.rollout.map(\.node.name) == ["c-n3"])
        #expect(reset.nodes.first { $0.node.name == "c-n4" }?.skip?.contains("vxlan-reset has no repair for F7") == true)
        #expect(try plan("calico-recover", findings).rollout.map(\.node.name) == ["c-n3"], "rp-filter-loose is opt-in")
        #expect(try plan("rp-filter-loose", findings).rollout.map(\.node.name) == ["c-n4"])
        #expect(try plan("vxlan-reset", findings, only: ["c-n4"]).rollout.isEmpty, "--nodes narrows; it never adds a node without a finding")
        // A repair named on its own runs its cluster-wide steps because it was asked for.
        #expect(try plan("offload-off", []).clusterRepairs.map(\.name) == ["offload-off"])
    }
}
