import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// A repair checked, recorded as running (the cluster's repair lock) and resolved, ready to run.
struct PreparedRepair: Sendable {
    let run: RunRecord
    let cluster: ClusterRecord
    let nodes: [NodeRecord]
    let targets: [String: SSHTarget]
    let playbook: Playbook
    let parameters: [String: String]
    /// nil: one node at a time when a chosen repair disrupts traffic, else `RepairService.gentleBatch`.
    let batch: Int?
    let maxFailures: Int
    let verifyTimeout: Int
    let dryRun: Bool
    let only: [String]?
}

/// What a repair stores about itself (`runs.summary`).
struct RepairSummary: Codable {
    var state: ClusterState?
    var message: String
}

/// Runs one repair: audit → plan → cluster-wide steps → node by node (apply, wait, verify with
/// the TCP probe), stopping at the first node that does not recover → audit again. Every step is
/// committed as it finishes.
struct RepairRunner: Sendable {
    let store: Store
    let runs: RunHistory
    let executor: SSHExecutor
    let audits: AuditService
    let library: PlaybookLibrary
    let options: SSHOptions
    let clock: @Sendable () -> Date

    typealias Audit = (run: RunRecord, result: AuditResult)

    /// `before`: an audit just made (auto-repair), instead of a new one.
    func run(_ repair: PreparedRepair, before given: Audit? = nil) async throws -> RunStatus {
        let runId = repair.run.id!
        let auditPlaybook = repair.playbook.audit ?? AuditService.defaultPlaybook
        let before: Audit
        if let given {
            before = given
        } else {
            before = try await audits.auditNow(
                cluster: repair.cluster.name, playbook: auditPlaybook, requester: repair.run.requester, trigger: repair.run.trigger,
                started: { [store] audit in try await store.linkAuditBefore(runId: runId, auditId: audit.id!) })
        }
        let plan = RepairPlan.make(repair.playbook, library: library, audit: before.result, nodes: repair.nodes, only: repair.only)
        try await store.recordRepairPlan(runId: runId, auditBeforeId: before.run.id!, nodes: plan.nodes.enumerated().map { index, node in
            RepairNodeRecord(
                runId: runId, nodeId: node.node.id, nodeName: node.node.name, position: index, findings: node.findings, repairs: node.repairs.map(\.name),
                outcome: node.skip != nil ? .skipped : repair.dryRun ? .planned : .pending, reason: node.skip ?? node.held)
        })
        var execution = RepairExecution(runner: self, repair: repair, before: before.result, auditPlaybook: library.playbooks[auditPlaybook])
        // Ends the run before the rollout began: no rollout node was touched.
        func untouched(_ status: RunStatus, skip reason: String, _ message: String) async throws -> RunStatus {
            try await store.skipRepairNodes(runId: runId, nodes: plan.rollout.map(\.node.name), reason: "not touched: \(reason)")
            return try await finish(runId, status, state: before.result.state, after: nil, message)
        }
        if let why = try await stopRequested(runId) {
            return try await untouched(.cancelled, skip: why, "\(why) after the audit; nothing was changed")
        }

        if plan.isEmpty {
            let healthy = before.result.state == .healthy
            let skipped = plan.nodes.compactMap { node in node.skip.map { "\(node.node.name): \($0)" } }
            return try await finish(
                runId, healthy ? .succeeded : .failed, state: before.result.state, after: nil,
                healthy ? "nothing to repair: the cluster is healthy" : "nothing \(repair.playbook.name) can repair; the cluster is \(before.result.state.rawValue)"
                    + (skipped.isEmpty ? "" : ": " + skipped.joined(separator: "; ")))
        }
        guard let controlPlane = execution.controlPlane else {
            return try await finish(
                runId, .failed, state: before.result.state, after: nil,
                "no control-plane node answered kubectl in the audit (run \(before.run.id!)), and the repair needs one; nothing was changed")
        }
        if repair.dryRun {
            try await execution.plan(plan, controlPlane: controlPlane)
            return try await finish(
                runId, .succeeded, state: before.result.state, after: nil,
                "dry run: \(plan.rollout.count) node(s) would be repaired (\(plan.rollout.map(\.node.name).joined(separator: ", ")))"
                    + (plan.clusterRepairs.isEmpty ? "" : " after cluster-wide steps of \(plan.clusterRepairs.map(\.name).joined(separator: ", "))")
                    + "; nothing was changed")
        }

        for cluster in plan.clusterRepairs {
            for step in cluster.steps(.oneControlPlane) {
                if let why = try await stopRequested(runId) {
                    return try await untouched(.cancelled, skip: why, "\(why) before \(cluster.name)/\(step.name); no node was touched")
                }
                if let failure = try await execution.step(step, of: cluster, node: nil, on: controlPlane) {
                    return try await untouched(.failed, skip: "a cluster-wide step failed", "\(failure); no node was touched")
                }
            }
        }

        var stop = try await execution.rollout(plan, controlPlane: controlPlane)
        if let why = try await stopRequested(runId) {
            // No audit after: whoever stopped it wants the cluster's lock back now.
            let reached = stop ?? "\(why) once every node was done (\(plan.rollout.count - execution.failures.count) of \(plan.rollout.count) recovered)"
            return try await finish(runId, .cancelled, state: nil, after: nil, reached + "; no audit after it: audit the cluster to see where it stands")
        }
        if stop == nil {
            for (source, step) in plan.after {
                if let failure = try await execution.step(step, of: source, node: nil, on: controlPlane) {
                    stop = failure
                    break
                }
            }
        }
        // The final check probes every pair of nodes (up to a bound), not only ring neighbours.
        let after = try await audits.auditNow(
            cluster: repair.cluster.name, playbook: auditPlaybook, requester: repair.run.requester, trigger: repair.run.trigger,
            parameters: ["probe_peers": String(min(max(repair.nodes.count - 1, 1), Self.finalProbePeers))])
        let state = after.result.state
        let notReady = repair.nodes.map(\.name).filter { after.result.facts?.calicoPod(on: $0)?.ready == false }
        let recovered = plan.rollout.count - execution.failures.count
        var message = stop ?? "\(recovered) node(s) repaired"
        message += "; the cluster is \(state.rawValue) (audit \(after.run.id!))"
        if !notReady.isEmpty { message += "; calico-node is not Ready on \(notReady.joined(separator: ", "))" }
        let succeeded = stop == nil && state == .healthy && notReady.isEmpty
        return try await finish(runId, succeeded ? .succeeded : .failed, state: state, after: after.run.id, message)
    }

    /// Why the repair should stop before its next step: caulk is stopping, or someone asked
    /// (`caulk runs cancel`); nil to go on.
    func stopRequested(_ runId: Int64) async throws -> String? {
        if Task.isCancelled { return "cancelled: caulk is stopping" }
        return try await store.cancelRequester(runId: runId).map { "cancelled by \($0)" }
    }

    /// Peers each node probes in the audit after a repair: every other node in clusters up to
    /// this size, so the final check covers every pair there.
    static let finalProbePeers = 32

    /// `run`, and when it throws, the run is recorded `failed` with why before the error goes on.
    @discardableResult
    func runRecordingFailure(_ repair: PreparedRepair, before: Audit? = nil) async throws -> RunStatus {
        do {
            return try await run(repair, before: before)
        } catch {
            // The summary says it in the repair's words; `fail` records the error and logs it (and
            // that the summary could not be written, if so).
            _ = try? await finish(repair.run.id!, .failed, state: nil, after: nil, "the repair stopped: \(error)")
            await runs.fail(repair.run.id!, error)
            throw error
        }
    }

    private func finish(_ runId: Int64, _ status: RunStatus, state: ClusterState?, after: Int64?, _ message: String) async throws -> RunStatus {
        try await store.finishRepair(runId: runId, status: status, auditAfterId: after, summary: HostRecords.json(RepairSummary(state: state, message: message)), at: clock())
        await runs.ended(runId)
        return status
    }
}
