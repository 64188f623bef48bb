import CaulkAPI
import CaulkStore
import Foundation

/// What a repair will do, chosen from an audit: the repairs whose cluster-wide steps run first,
/// then, node by node, the repairs each node's own findings call for. A node without such a
/// finding is never in the rollout.
struct RepairPlan: Sendable {
    struct NodePlan: Sendable {
        let node: NodeRecord
        /// Check ids that called for a repair (or, when skipped, that caulk cannot repair).
        let findings: [String]
        let repairs: [Playbook]
        /// Why the node is not touched, when it is not.
        let skip: String?
        /// What the node does not get although a finding calls for it, when it is touched.
        var held: String? = nil
    }

    /// Repairs whose `one-control-plane` steps run, in order.
    let clusterRepairs: [Playbook]
    /// Rollout order (name order); skipped nodes included, for the report.
    let nodes: [NodePlan]
    /// `after-nodes` steps, with the playbook each comes from.
    let after: [(repair: Playbook, step: Playbook.Step)]

    var rollout: [NodePlan] { nodes.filter { $0.skip == nil } }
    var isEmpty: Bool { clusterRepairs.isEmpty && rollout.isEmpty }
    var disruptive: Bool { rollout.contains { $0.repairs.contains(where: \.disruptive) } }

    /// The repairs `playbook` may run: a composite's list (opt-in ones left out), or itself.
    static func candidates(_ playbook: Playbook, library: PlaybookLibrary) -> [Playbook] {
        guard !playbook.repairs.isEmpty else { return [playbook] }
        return playbook.repairs.compactMap { library.playbooks[$0] }.filter { !$0.optIn }
    }

    /// Checks whose findings mean caulk could not see the node whole: its evidence is incomplete.
    static let incompleteEvidence: Set<String> = ["UNKNOWN", "IDENTITY"]

    /// `only`: restrict the rollout to these nodes. A repair named on its own runs its cluster-wide
    /// steps even without a finding (the operator asked for it); a composite only for findings.
    /// A chosen `every_node` repair (a new cluster MTU) runs on every node it can reach. A node
    /// whose evidence is incomplete (a check could not run, no Kubernetes identity) never gets a
    /// disruptive repair.
    static func make(_ playbook: Playbook, library: PlaybookLibrary, audit: AuditResult, nodes: [NodeRecord], only: [String]?) -> RepairPlan {
        let candidates = candidates(playbook, library: library)
        let byName = Dictionary(uniqueKeysWithValues: candidates.map { ($0.name, $0) })
        let actionable = audit.findings.filter { $0.severity != .info }
        let called = Set(actionable.compactMap(\.repair))
        let clusterRepairs = candidates.filter { repair in
            !repair.steps(.oneControlPlane).isEmpty && (playbook.repairs.isEmpty || called.contains(repair.name))
        }
        let everyNode = clusterRepairs.filter(\.everyNode).map(\.name)
        var plans: [NodePlan] = []
        for node in nodes.sorted(by: { $0.name < $1.name }) {
            if let only, !only.contains(node.name) { continue }
            let own = actionable.filter { $0.node == node.name }
            if let unreachable = own.first(where: { $0.check == "SSH" || $0.check == "SUDO" }) {
                let why = unreachable.check == "SSH" ? "not reachable over SSH" : "no command can run there as root"
                plans.append(NodePlan(node: node, findings: [unreachable.check], repairs: [], skip: "\(why): \(unreachable.message)"))
                continue
            }
            let fixable = own.filter { $0.repair.map { byName[$0] != nil } ?? false }
            let names = Set(fixable.compactMap(\.repair) + everyNode)
            var repairs = candidates.filter { names.contains($0.name) && !$0.steps(.eachNode).isEmpty }
            var findings = unique(fixable.map(\.check))
            if repairs.contains(where: { everyNode.contains($0.name) }), findings.isEmpty {
                findings = everyNode.map { "cluster-wide \($0)" }
            }
            var gaps = own.filter { incompleteEvidence.contains($0.check) }.map(\.message)
            if audit.facts?.kubernetesName(of: node.name) == nil { gaps.append("no Kubernetes Node is known for it") }
            let held = gaps.isEmpty ? [] : repairs.filter(\.disruptive)
            repairs.removeAll { held.contains($0) }
            let heldReason = held.isEmpty ? nil
                : "evidence incomplete, so \(held.map(\.name).joined(separator: ", ")) (disruptive) is not run: \(unique(gaps).joined(separator: "; "))"
            if !repairs.isEmpty {
                plans.append(NodePlan(node: node, findings: findings, repairs: repairs, skip: nil, held: heldReason))
            } else if let heldReason {
                plans.append(NodePlan(
                    node: node, findings: unique(findings + own.filter { incompleteEvidence.contains($0.check) }.map(\.check)), repairs: [],
                    skip: heldReason))
            } else if let worst = own.max(by: { $0.severity < $1.severity }) {
                plans.append(NodePlan(
                    node: node, findings: unique(own.map(\.check)), repairs: [],
                    skip: "\(playbook.name) has no repair for \(unique(own.map(\.check)).joined(separator: ", ")): \(worst.message)"))
            }
        }
        let touched = Set((clusterRepairs + plans.flatMap(\.repairs)).map(\.name))
        let sources = playbook.repairs.isEmpty ? [playbook] : [playbook] + candidates.filter { touched.contains($0.name) }
        let after = sources.flatMap { repair in repair.steps(.afterNodes).map { (repair, $0) } }
        return RepairPlan(clusterRepairs: clusterRepairs, nodes: plans, after: after)
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
