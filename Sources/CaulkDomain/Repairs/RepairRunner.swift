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
    let executor: SSHExecutor
    let audits: AuditService
    let library: PlaybookLibrary
    let options: SSHOptions
    let clock: @Sendable () -> Date

    typealias Audit = (run: RunRecord, result: AuditResult)

    /// `before`: an audit just made (auto-repair), instead of a new one.
    @discardableResult
    func run(_ repair: PreparedRepair, before given: Audit? = nil) async throws -> RunStatus {
        let runId = repair.run.id!
        let auditPlaybook = repair.playbook.audit ?? AuditService.defaultPlaybook
        let before: Audit
        if let given {
            before = given
        } else {
            before = try await audits.auditNow(cluster: repair.cluster.name, playbook: auditPlaybook, requester: repair.run.requester, trigger: repair.run.trigger)
        }
        let plan = RepairPlan.make(repair.playbook, library: library, audit: before.result, nodes: repair.nodes, only: repair.only)
        try await store.recordRepairPlan(runId: runId, auditBeforeId: before.run.id!, nodes: plan.nodes.enumerated().map { index, node in
            RepairNodeRecord(
                runId: runId, nodeId: node.node.id, nodeName: node.node.name, position: index, findings: node.findings, repairs: node.repairs.map(\.name),
                outcome: node.skip != nil ? "skipped" : repair.dryRun ? "planned" : "pending", reason: node.skip)
        })
        var execution = Execution(runner: self, repair: repair, before: before.result, auditPlaybook: library.playbooks[auditPlaybook])
        if Task.isCancelled {
            try await skipRollout(runId, plan.rollout, reason: "not touched: the repair was cancelled")
            return try await finish(runId, .cancelled, state: before.result.state, after: nil, "cancelled after the audit; nothing was changed")
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
                let result = try await execution.step(step, of: cluster, node: nil, on: controlPlane)
                if let failure = result {
                    try await skipRollout(runId, plan.rollout, reason: "not touched: a cluster-wide step failed")
                    return try await finish(runId, .failed, state: before.result.state, after: nil, "\(failure); no node was touched")
                }
            }
        }

        let stop = try await execution.rollout(plan, controlPlane: controlPlane)
        if Task.isCancelled {
            return try await finish(runId, .cancelled, state: nil, after: nil, stop ?? "cancelled")
        }
        if stop == nil {
            for (source, step) in plan.after {
                if let failure = try await execution.step(step, of: source, node: nil, on: controlPlane) {
                    execution.notes.append(failure)
                    break
                }
            }
        }
        let after = try await audits.auditNow(cluster: repair.cluster.name, playbook: auditPlaybook, requester: repair.run.requester, trigger: repair.run.trigger)
        let state = after.result.state
        let recovered = plan.rollout.count - execution.failures.count
        var message = stop ?? "\(recovered) node(s) repaired"
        message += "; the cluster is \(state.rawValue) (audit \(after.run.id!))"
        if !execution.notes.isEmpty { message += "; " + execution.notes.joined(separator: "; ") }
        return try await finish(runId, stop == nil && state == .healthy ? .succeeded : .failed, state: state, after: after.run.id, message)
    }

    private func skipRollout(_ runId: Int64, _ nodes: [RepairPlan.NodePlan], reason: String) async throws {
        for node in nodes { try await store.updateRepairNode(runId: runId, node: node.node.name, outcome: "skipped", reason: reason) }
    }

    private func finish(_ runId: Int64, _ status: RunStatus, state: ClusterState?, after: Int64?, _ message: String) async throws -> RunStatus {
        try await store.finishRepair(runId: runId, status: status.rawValue, auditAfterId: after, summary: AuditRunner.json(RepairSummary(state: state, message: message)), at: clock())
        return status
    }
}

/// One repair's state while it runs: where kubectl goes, the values commands are rendered with,
/// and which nodes are known good peers for the probe.
private struct Execution: Sendable {
    let runner: RepairRunner
    let repair: PreparedRepair
    let facts: ClusterFacts
    let controlPlane: NodeRecord?
    let probe: (peers: Int, podPort: Int, vtepPort: Int, timeout: Int)
    /// Nodes the audit found without a critical problem, and those repaired since.
    var goodPeers: [String]
    var failures: [String] = []
    var notes: [String] = []
    private let vxlanMTU: Int?

    init(runner: RepairRunner, repair: PreparedRepair, before: AuditResult, auditPlaybook: Playbook?) {
        self.runner = runner
        self.repair = repair
        facts = before.facts ?? ClusterFacts()
        controlPlane = facts.controlPlane.flatMap { name in repair.nodes.first { $0.name == name } }
        let defaults = Dictionary(uniqueKeysWithValues: (auditPlaybook?.parameters ?? []).map { ($0.name, Int($0.defaultValue)) })
        probe = ((defaults["probe_peers"] ?? nil) ?? 8, (defaults["probe_port"] ?? nil) ?? 53, (defaults["vtep_port"] ?? nil) ?? 10250, (defaults["probe_timeout"] ?? nil) ?? 2)
        goodPeers = before.nodes.filter { $0.health == .healthy || $0.health == .degraded }.map(\.node)
        vxlanMTU = before.nodes.compactMap { $0.facts?.nicMtu }.min().map { $0 - 50 }
    }

    func values(_ node: NodeRecord?) -> [String: String] {
        var values = repair.parameters
        values["cluster"] = repair.cluster.name
        values["calico_namespace"] = repair.cluster.calicoNamespace
        values["control_plane"] = controlPlane?.name ?? ""
        values["vxlan_mtu"] = vxlanMTU.map(String.init) ?? ""
        if let node {
            values["node"] = node.name
            values["node_ip"] = facts.nodes[node.name]?.internalIp ?? node.address
        }
        return values
    }

    // MARK: Dry run

    /// Records every step the repair would run, with its real values, as `planned`.
    func plan(_ plan: RepairPlan, controlPlane: NodeRecord) async throws {
        func planned(_ node: String?, host: String, repair: String, step: String, command: String) async throws {
            try await runner.store.recordRepairStep(RepairStepRecord(
                runId: self.repair.run.id!, nodeName: node, host: host, repair: repair, step: step, command: command, outcome: "planned",
                exitStatus: nil, stdout: "", stderr: "", startedAt: runner.clock(), durationMs: 0))
        }
        for cluster in plan.clusterRepairs {
            for step in cluster.steps(.oneControlPlane) {
                try await planned(nil, host: controlPlane.name, repair: cluster.name, step: step.name, command: CommandTemplate.render(step.command ?? "", values(nil)))
            }
        }
        for node in plan.rollout {
            for repair in node.repairs {
                for step in repair.steps(.eachNode) {
                    let host = step.on == .controlPlane ? controlPlane.name : node.node.name
                    try await planned(node.node.name, host: host, repair: repair.name, step: step.name, command: CommandTemplate.render(step.command ?? "", values(node.node)))
                }
            }
            let targets = probeTargets(node.node.name)
            try await planned(
                node.node.name, host: node.node.name, repair: Self.verifyRepair, step: Self.verifyStep,
                command: targets.isEmpty ? "# no healthy peer to probe; the audit after the repair probes this node" : DatapathProbe.command(targets, timeout: probe.timeout))
        }
        for (source, step) in plan.after {
            try await planned(nil, host: controlPlane.name, repair: source.name, step: step.name, command: CommandTemplate.render(step.command ?? "", values(nil)))
        }
    }

    // MARK: Steps

    static let verifyRepair = "verify"
    static let verifyStep = "tcp-probe"

    /// Runs one step on `host` and records it. Returns why it failed, or nil.
    func step(_ step: Playbook.Step, of playbook: Playbook, node: NodeRecord?, on host: NodeRecord) async throws -> String? {
        let command = CommandTemplate.render(step.command ?? "", values(node))
        let started = runner.clock()
        let outcome = await runner.executor.run(
            SSHJob(target: repair.targets[host.name]!, commands: [SSHCommand(command, timeout: .seconds(step.timeout))]), options: runner.options)
        var record = RepairStepRecord(
            runId: repair.run.id!, nodeName: node?.name, host: host.name, repair: playbook.name, step: step.name, command: command, outcome: "ok",
            exitStatus: nil, stdout: "", stderr: "", startedAt: started, durationMs: ExecService.milliseconds(outcome.duration))
        let where_ = "\(playbook.name)/\(step.name) on \(host.name)"
        var failure: String?
        switch outcome.result {
        case .success(let results):
            let result = results.first
            record.exitStatus = result?.exitStatus.map(Int.init)
            record.stdout = ExecService.text(result?.stdout ?? [])
            record.stderr = ExecService.text(result?.stderr ?? [])
            if result?.timedOut == true {
                record.outcome = RepairStepOutcome.timedOut.rawValue
                failure = "\(where_) timed out after \(step.timeout) s" + Self.lastLine(record.stderr, record.stdout)
            } else if result?.succeeded != true {
                record.outcome = RepairStepOutcome.failed.rawValue
                failure = "\(where_) failed (exit \(record.exitStatus.map(String.init) ?? result?.exitSignal ?? "?"))" + Self.lastLine(record.stderr, record.stdout)
            }
        case .failure(let error):
            record.outcome = RepairStepOutcome.error.rawValue
            record.stderr = error.description
            failure = "\(where_) could not run: \(error.description)"
        }
        try await runner.store.recordRepairStep(record)
        return failure
    }

    private static func lastLine(_ texts: String...) -> String {
        for text in texts {
            if let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                return ": " + Excerpt.of(String(line), lines: 1)
            }
        }
        return ""
    }

    // MARK: Rollout

    /// Repairs the nodes batch by batch; returns why it stopped early, or nil.
    mutating func rollout(_ plan: RepairPlan, controlPlane: NodeRecord) async throws -> String? {
        let nodes = plan.rollout
        let width = repair.batch ?? (plan.disruptive ? 1 : RepairService.gentleBatch)
        var index = 0
        while index < nodes.count {
            if Task.isCancelled {
                try await skip(nodes[index...], reason: "not touched: the repair was cancelled")
                return "cancelled after \(index) node(s)"
            }
            let batch = Array(nodes[index..<min(index + width, nodes.count)])
            index += batch.count
            let peers = goodPeers
            let results = try await withThrowingTaskGroup(of: (String, String?).self) { group in
                for node in batch {
                    let this = self
                    group.addTask { (node.node.name, try await this.repairNode(node, peers: peers, controlPlane: controlPlane)) }
                }
                var results: [(String, String?)] = []
                for try await result in group { results.append(result) }
                return results
            }
            for (node, failure) in results.sorted(by: { $0.0 < $1.0 }) {
                if let failure { failures.append("\(node): \(failure)") } else { goodPeers.append(node) }
            }
            if failures.count >= repair.maxFailures, index < nodes.count {
                let rest = nodes[index...]
                try await skip(rest, reason: "not touched: the rollout stopped after \(failures.count) failed node(s)")
                return "rollout stopped: \(failures.joined(separator: "; ")); not touched: \(rest.map(\.node.name).joined(separator: ", "))"
            }
        }
        return failures.isEmpty ? nil : "failed: \(failures.joined(separator: "; "))"
    }

    private func skip(_ nodes: ArraySlice<RepairPlan.NodePlan>, reason: String) async throws {
        for node in nodes {
            try await runner.store.updateRepairNode(runId: repair.run.id!, node: node.node.name, outcome: RepairNodeOutcome.skipped.rawValue, reason: reason)
        }
    }

    /// Apply each repair's steps, then verify. Returns why the node did not recover, or nil.
    private func repairNode(_ node: RepairPlan.NodePlan, peers: [String], controlPlane: NodeRecord) async throws -> String? {
        let runId = repair.run.id!
        try await runner.store.updateRepairNode(runId: runId, node: node.node.name, outcome: RepairNodeOutcome.running.rawValue, reason: nil, startedAt: runner.clock())
        var failure: String?
        steps: for playbook in node.repairs {
            for step in playbook.steps(.eachNode) {
                failure = try await self.step(step, of: playbook, node: node.node, on: step.on == .controlPlane ? controlPlane : node.node)
                if failure != nil { break steps }
            }
        }
        if failure == nil { failure = try await verify(node.node, peers: peers) }
        try await runner.store.updateRepairNode(
            runId: runId, node: node.node.name, outcome: (failure == nil ? RepairNodeOutcome.recovered : .failed).rawValue, reason: failure,
            finishedAt: runner.clock())
        return failure
    }

    private func probeTargets(_ node: String, peers: [String]? = nil) -> [DatapathProbe.Target] {
        let peers = (peers ?? goodPeers).filter { $0 != node }
        return DatapathProbe.targets(
            for: node, nodes: [node] + peers, facts: facts, limit: probe.peers, podPort: probe.podPort, vtepPort: probe.vtepPort)
    }

    /// TCP (not ICMP) from the node to pods on known-good peers, until every probe passes or the
    /// verify timeout ends. Returns why it failed, or nil.
    private func verify(_ node: NodeRecord, peers: [String]) async throws -> String? {
        let targets = probeTargets(node.name, peers: peers)
        let started = runner.clock()
        var record = RepairStepRecord(
            runId: repair.run.id!, nodeName: node.name, host: node.name, repair: Self.verifyRepair, step: Self.verifyStep, command: "", outcome: "ok",
            exitStatus: 0, stdout: "", stderr: "", startedAt: started, durationMs: 0)
        guard !targets.isEmpty else {
            record.command = "# no healthy peer to probe"
            record.stdout = "no peer is known to be healthy yet; the audit after the repair probes this node"
            try await runner.store.recordRepairStep(record)
            return nil
        }
        record.command = DatapathProbe.command(targets, timeout: probe.timeout)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(repair.verifyTimeout)
        var attempts = 0
        var failure: String?
        while true {
            attempts += 1
            let outcome = await runner.executor.run(
                SSHJob(target: repair.targets[node.name]!, commands: [SSHCommand(record.command, timeout: .seconds(probe.timeout + 10))]), options: runner.options)
            switch outcome.result {
            case .success(let results):
                let output = StepOutput(exitStatus: results.first?.exitStatus.map(Int.init), stdout: ExecService.text(results.first?.stdout ?? []))
                let probes = DatapathProbe.parse(output)
                record.stdout = output.stdout
                let failed = targets.filter { target in !probes.contains { $0.peer == target.peer && $0.tcp } }
                failure = failed.isEmpty ? nil : "TCP across the overlay fails to " + failed.map { target in
                    let icmp = probes.first { $0.peer == target.peer }?.icmp == true
                    return "\(target.peer) \(target.address):\(target.port)\(icmp ? " (ICMP passes: the F2 fingerprint)" : "")"
                }.joined(separator: ", ")
            case .failure(let error):
                failure = "the probe could not run: \(error.description)"
                record.stderr = error.description
            }
            if failure == nil || clock.now >= deadline || Task.isCancelled { break }
            try? await Task.sleep(for: .seconds(2))
        }
        record.durationMs = ExecService.milliseconds(clock.now - (deadline - .seconds(repair.verifyTimeout)))
        record.stdout += "\n(\(attempts) attempt(s))"
        if let failure {
            record.outcome = RepairStepOutcome.failed.rawValue
            record.exitStatus = 1
            record.stderr = failure
            try await runner.store.recordRepairStep(record)
            return "verify: \(failure) (after \(repair.verifyTimeout) s)"
        }
        try await runner.store.recordRepairStep(record)
        return nil
    }
}
