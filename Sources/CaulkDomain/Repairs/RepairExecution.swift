import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// One repair's state while it runs: where kubectl goes, the values commands are rendered with,
/// and which nodes are known good peers for the probe.
struct RepairExecution: Sendable {
    let runner: RepairRunner
    let repair: PreparedRepair
    let facts: ClusterFacts
    let controlPlane: NodeRecord?
    let probe: DatapathProbe.Settings
    /// Nodes the audit found without a critical problem, and those repaired since.
    var goodPeers: [String]
    var failures: [String] = []
    private let vxlanMTU: Int?

    init(runner: RepairRunner, repair: PreparedRepair, before: AuditResult, auditPlaybook: Playbook?) {
        self.runner = runner
        self.repair = repair
        facts = before.facts ?? ClusterFacts()
        controlPlane = facts.controlPlane.flatMap { name in repair.nodes.first { $0.name == name } }
        probe = DatapathProbe.Settings(Dictionary((auditPlaybook?.parameters ?? []).map { ($0.name, $0.defaultValue) }) { first, _ in first })
        goodPeers = before.nodes.filter { $0.health == .healthy || $0.health == .degraded }.map(\.node)
        vxlanMTU = before.nodes.compactMap { $0.facts?.nicMtu }.min().map { $0 - 50 }
    }

    /// Keeps a step as it ended, and times it for metrics (planned steps of a dry run are not).
    private func keep(_ step: RepairStepRecord) async throws {
        try await runner.store.recordRepairStep(step)
        if step.outcome != .planned { runner.runs.metrics.repairStep(outcome: step.outcome, durationMs: step.durationMs) }
    }

    func values(_ node: NodeRecord?) -> [String: String] {
        PlaybookContext(parameters: repair.parameters, cluster: repair.cluster, facts: facts, controlPlane: controlPlane?.name, vxlanMTU: vxlanMTU)
            .values(node)
    }

    // MARK: Dry run

    /// Records every step the repair would run, with its real values, as `planned`.
    func plan(_ plan: RepairPlan, controlPlane: NodeRecord) async throws {
        func planned(_ node: String?, host: String, repair: String, step: String, command: String) async throws {
            try await keep(RepairStepRecord(
                runId: self.repair.run.id!, nodeName: node, host: host, repair: repair, step: step, command: command, outcome: .planned,
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
        let command = step.sshCommand(values(node))
        let started = runner.clock()
        let outcome = await runner.executor.run(
            SSHJob(target: repair.targets[host.name]!, commands: [command]), options: runner.options, run: repair.run.id!)
        var record = RepairStepRecord(
            runId: repair.run.id!, nodeName: node?.name, host: host.name, repair: playbook.name, step: step.name, command: command.command, outcome: .ok,
            exitStatus: nil, stdout: "", stderr: "", startedAt: started, durationMs: HostRecords.milliseconds(outcome.duration))
        let place = "\(playbook.name)/\(step.name) on \(host.name)"
        var failure: String?
        switch outcome.result {
        case .success(let results):
            let result = results.first
            record.exitStatus = result?.exitStatus.map(Int.init)
            record.stdout = HostRecords.text(result?.stdout ?? [])
            record.stderr = HostRecords.text(result?.stderr ?? [])
            if result?.timedOut == true {
                record.outcome = .timedOut
                failure = "\(place) timed out after \(step.timeout) s" + Self.lastLine(record.stderr, record.stdout)
            } else if result?.succeeded != true {
                record.outcome = .failed
                failure = "\(place) failed (exit \(record.exitStatus.map(String.init) ?? result?.exitSignal ?? "?"))" + Self.lastLine(record.stderr, record.stdout)
            }
        case .failure(let error):
            record.outcome = .error
            record.stderr = error.description
            failure = "\(place) could not run: \(error.description)"
        }
        try await keep(record)
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
            if let why = try await runner.stopRequested(repair.run.id!) {
                try await runner.store.skipRepairNodes(runId: repair.run.id!, nodes: nodes[index...].map(\.node.name), reason: "not touched: \(why)")
                return "\(why) after \(index) node(s)" + (failures.isEmpty ? "" : "; failed: \(failures.joined(separator: "; "))")
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
                try await runner.store.skipRepairNodes(runId: repair.run.id!, nodes: rest.map(\.node.name), reason: "not touched: the rollout stopped after \(failures.count) failed node(s)")
                return "rollout stopped: \(failures.joined(separator: "; ")); not touched: \(rest.map(\.node.name).joined(separator: ", "))"
            }
        }
        return failures.isEmpty ? nil : "failed: \(failures.joined(separator: "; "))"
    }

    /// Apply each repair's steps, then verify. Returns why the node did not recover, or nil.
    private func repairNode(_ node: RepairPlan.NodePlan, peers: [String], controlPlane: NodeRecord) async throws -> String? {
        let runId = repair.run.id!
        try await runner.store.updateRepairNode(runId: runId, node: node.node.name, outcome: .running, reason: nil, startedAt: runner.clock())
        var failure: String?
        steps: for playbook in node.repairs {
            for step in playbook.steps(.eachNode) {
                failure = try await self.step(step, of: playbook, node: node.node, on: step.on == .controlPlane ? controlPlane : node.node)
                if failure != nil { break steps }
            }
        }
        if failure == nil { failure = try await verify(node.node, peers: peers) }
        try await runner.store.updateRepairNode(
            runId: runId, node: node.node.name, outcome: failure == nil ? .recovered : .failed, reason: failure ?? node.held,
            finishedAt: runner.clock())
        return failure
    }

    private func probeTargets(_ node: String, peers: [String]? = nil) -> [DatapathProbe.Target] {
        let peers = (peers ?? goodPeers).filter { $0 != node }
        return DatapathProbe.targets(
            for: node, ring: DatapathProbe.Ring([node] + peers), facts: facts, settings: probe)
    }

    /// TCP (not ICMP) and a full-size don't-fragment ping from the node to pods on known-good
    /// peers, until every probe passes or the verify timeout ends. Returns why it failed, or nil.
    private func verify(_ node: NodeRecord, peers: [String]) async throws -> String? {
        let targets = probeTargets(node.name, peers: peers)
        let started = runner.clock()
        var record = RepairStepRecord(
            runId: repair.run.id!, nodeName: node.name, host: node.name, repair: Self.verifyRepair, step: Self.verifyStep, command: "", outcome: .ok,
            exitStatus: 0, stdout: "", stderr: "", startedAt: started, durationMs: 0)
        guard !targets.isEmpty else {
            record.command = "# no healthy peer to probe"
            record.stdout = "no peer is known to be healthy yet; the audit after the repair probes this node"
            try await keep(record)
            return nil
        }
        record.command = DatapathProbe.command(targets, timeout: probe.timeout)
        let clock = ContinuousClock()
        let begun = clock.now
        let deadline = begun + .seconds(repair.verifyTimeout)
        var attempts = 0
        var failure: String?
        while true {
            attempts += 1
            let outcome = await runner.executor.run(
                SSHJob(target: repair.targets[node.name]!, commands: [SSHCommand(record.command, timeout: .seconds(probe.timeout + 10))]), options: runner.options,
                run: repair.run.id!)
            switch outcome.result {
            case .success(let results):
                let output = StepOutput(exitStatus: results.first?.exitStatus.map(Int.init), stdout: HostRecords.text(results.first?.stdout ?? []))
                let probes = DatapathProbe.parse(output)
                record.stdout = output.stdout
                let failed = targets.filter { target in !probes.contains { $0.peer == target.peer && $0.passed } }
                failure = failed.isEmpty ? nil : "the overlay fails to " + failed.map { target in
                    let probe = probes.first { $0.peer == target.peer }
                    let why = switch (probe?.tcp, probe?.icmp, probe?.fullSize) {
                    case (true?, _, false?): "TCP passes, a full-size packet does not: an MTU black hole"
                    case (false?, true?, _): "TCP fails, ICMP passes: the F2 fingerprint"
                    case (false?, _, _): "TCP fails"
                    default: "no answer from the probe"
                    }
                    return "\(target.peer) \(target.address):\(target.port) (\(why))"
                }.joined(separator: ", ")
            case .failure(let error):
                failure = "the probe could not run: \(error.description)"
                record.stderr = error.description
            }
            if failure == nil || clock.now >= deadline || Task.isCancelled { break }
            try? await Task.sleep(for: .seconds(2))
        }
        record.durationMs = HostRecords.milliseconds(clock.now - begun)
        record.stdout += "\n(\(attempts) attempt(s))"
        if let failure {
            record.outcome = .failed
            record.exitStatus = 1
            record.stderr = failure
            try await keep(record)
            return "verify: \(failure) (after \(repair.verifyTimeout) s)"
        }
        try await keep(record)
        return nil
    }
}
