import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// An audit recorded as running, with everything resolved, ready to run.
struct PreparedAudit: Sendable {
    let run: RunRecord
    let cluster: ClusterRecord
    let nodes: [NodeRecord]
    let targets: [String: SSHTarget]
    let playbook: Playbook
    let parameters: [String: String]
    let concurrency: Int
}

/// Runs one audit of one cluster: the control-plane steps once, then every node's steps over one
/// SSH connection per node, recording each node (state, facts, findings, boot) as it finishes,
/// then the checks that compare nodes.
struct AuditRunner: Sendable {
    let store: Store
    let executor: SSHExecutor
    let options: SSHOptions
    let runs: RunHistory
    let clock: @Sendable () -> Date

    /// kubectl's JSON for a large cluster runs to megabytes; it is parsed, never stored.
    static let clusterStepOutput = 16 << 20

    func run(_ audit: PreparedAudit) async throws {
        let runId = audit.run.id!
        // The node steps need kubectl's facts first: the probe's targets and each node's IP.
        var facts = await clusterFacts(audit)
        let identity = facts.nodes.isEmpty ? nil : NodeIdentity.match(audit.nodes.map { ($0.name, $0.address) }, kubernetes: facts.nodes)
        facts.kubernetesNames = identity?.names
        let nodeChecks = Self.nodeChecks(audit.playbook)

        var jobs: [SSHJob] = []
        var batches: [String: StepBatch] = [:]
        var options = options
        let ring = DatapathProbe.Ring(audit.nodes.map(\.name))
        for node in audit.nodes {
            let batch = nodeBatch(audit, node: node, facts: facts, ring: ring)
            batches[node.name] = batch
            options.outputCap = max(options.outputCap, batch.outputCap)
            jobs.append(SSHJob(target: audit.targets[node.name]!, commands: [batch.command]))
        }
        let probeStep = audit.playbook.steps(.eachNode).first { $0.builtin == .datapathProbe }?.name
        let byName = Dictionary(uniqueKeysWithValues: audit.nodes.map { ($0.name, $0) })
        var worst: [String: NodeHealth] = [:]
        var nodeFacts: [String: NodeFacts] = [:]
        var nodeFindings: [String: [Finding]] = [:]
        var done = 0
        for await outcome in executor.fanOut(jobs, concurrency: audit.concurrency, options: options, run: runId) {
            // Asked to stop (`caulk runs cancel`): this node is kept, no other starts. One indexed
            // read per node, against the SSH session each node took.
            let stopping = try await store.cancelRequester(runId: runId) != nil
            done += 1
            let node = byName[outcome.target.name]!
            let now = clock()
            record: switch outcome.result {
            case .failure(let error):
                worst[node.name] = .unreachable
                let finding = Finding(check: "SSH", severity: .critical, node: node.name, message: "unreachable: \(error.description)", evidence: error.summary, repair: nil)
                try await recordUnreachable(node, finding, error: error.description, audit: audit, facts: facts, at: now)
            case .success(let results):
                let batch = batches[node.name]!
                let steps = results.first.map { batch.split($0) } ?? [:]
                if steps.isEmpty, let refused = Self.sudoRefusal(results.first, node: node.name, target: audit.targets[node.name]!) {
                    worst[node.name] = .unreachable
                    try await recordUnreachable(node, refused, error: refused.message, audit: audit, facts: facts, at: now)
                    break record
                }
                let nodeIP = facts.node(node.name)?.internalIp ?? node.address
                let parsed = NodeFacts.parse(steps, nodeIP: nodeIP)
                nodeFacts[node.name] = parsed
                let context = CalicoChecks.NodeContext(
                    node: node.name, kubernetesName: facts.kubernetesName(of: node.name), nodeIP: nodeIP, facts: parsed, steps: steps, cluster: facts)
                var findings = Self.evaluate(nodeChecks, context)
                if let problem = identity?.problems[node.name] {
                    findings.append(Finding(
                        check: "IDENTITY", severity: .warning, node: node.name,
                        message: "no Kubernetes Node could be matched to this node: \(problem); kubectl steps, peer checks and disruptive repairs leave it out",
                        evidence: "inventory: \(node.name) \(node.address)", repair: nil))
                }
                if let probeStep, let unknown = Self.probeUnknown(steps[probeStep], planned: batch.steps.contains { $0.name == probeStep }) {
                    findings.append(Finding(check: "UNKNOWN", severity: .warning, node: node.name, message: unknown, evidence: steps[probeStep]?.problem ?? "", repair: nil))
                }
                nodeFindings[node.name] = findings
                let health = Self.health(findings)
                worst[node.name] = health
                let bootedAt = parsed.uptimeSeconds.map { now.addingTimeInterval(-$0) }
                try await store.recordAuditNode(
                    AuditNodeRecord(runId: runId, nodeId: node.id, nodeName: node.name, health: health, bootId: parsed.bootId, bootedAt: bootedAt,
                                    kernel: parsed.kernel, nicDriver: parsed.nicDriver, calicoVersion: facts.calicoVersion,
                                    encapsulation: Self.encapsulation(audit, facts), os: parsed.os, facts: HostRecords.json(parsed), error: nil,
                                    finishedAt: now),
                    findings: findings.map { Self.record($0, runId: runId, cluster: audit.cluster.name, at: now) }, seenAt: now)
                if let nodeId = node.id, let bootId = parsed.bootId {
                    if let reboot = try await store.recordBoot(nodeId: nodeId, bootId: bootId, bootedAt: bootedAt, seenAt: now, source: "audit", runId: runId) {
                        runs.metrics.reboot(source: "audit")
                        await runs.notifications.reboot(reboot)
                    }
                }
            }
            // The node that just finished is kept; the nodes not started yet never start.
            if stopping { break }
        }

        var late = clusterFindings(audit, facts: facts, nodeFacts: nodeFacts, nodeFindings: nodeFindings)
        if let unclaimed = identity?.unclaimed, !unclaimed.isEmpty {
            late.append(Finding(
                check: "IDENTITY", severity: .warning, node: nil,
                message: "\(unclaimed.count) Kubernetes Node(s) match no node in caulk's inventory, so caulk neither audits nor repairs them: \(unclaimed.joined(separator: ", "))",
                evidence: Excerpt.of(unclaimed.map { "\($0) InternalIP \(facts.nodes[$0]?.internalIp ?? "?")" }.joined(separator: "\n")), repair: nil))
        }
        var changed: [String: NodeHealth] = [:]
        for finding in late {
            guard let node = finding.node, let current = worst[node], current != .unreachable else { continue }
            let updated = Self.health([finding], from: current)
            if updated != current {
                worst[node] = updated
                changed[node] = updated
            }
        }
        let summary = AuditSummary(state: Self.state(Array(worst.values), clusterFindings: late.filter { $0.node == nil }), facts: facts)
        let now = clock()
        let status: RunStatus = done < jobs.count ? .cancelled : .succeeded
        try await store.finishAudit(
            runId: runId, findings: late.map { Self.record($0, runId: runId, cluster: audit.cluster.name, at: now) }, health: changed,
            status: status, summary: HostRecords.json(summary), at: now)
        await runs.ended(runId)
    }

    /// What the cluster ran at the time, kept with each audited node: the IP pools' word when
    /// kubectl read them, else the inventory's.
    static func encapsulation(_ audit: PreparedAudit, _ facts: ClusterFacts) -> Encapsulation {
        facts.encapsulationInUse ?? audit.cluster.encapsulation
    }

    /// A node reached over SSH where no command could run: recorded with its one finding.
    private func recordUnreachable(
        _ node: NodeRecord, _ finding: Finding, error: String, audit: PreparedAudit, facts: ClusterFacts, at now: Date
    ) async throws {
        try await store.recordAuditNode(
            AuditNodeRecord(runId: audit.run.id!, nodeId: node.id, nodeName: node.name, health: .unreachable, bootId: nil, bootedAt: nil,
                            kernel: nil, nicDriver: nil, calicoVersion: facts.calicoVersion, encapsulation: Self.encapsulation(audit, facts),
                            facts: "{}", error: error, finishedAt: now),
            findings: [Self.record(finding, runId: audit.run.id!, cluster: audit.cluster.name, at: now)], seenAt: nil)
    }

    /// When commands run through `sudo -n` and sudo refused before any step ran (it wants a
    /// password, or the user may not run commands as `become`): a `SUDO` finding saying so.
    static func sudoRefusal(_ result: CommandResult?, node: String, target: SSHTarget) -> Finding? {
        guard let become = target.become, let result, !result.succeeded else { return nil }
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        guard stderr.contains("sudo") else { return nil }
        return Finding(
            check: "SUDO", severity: .critical, node: node,
            message: "\(target.user)@\(target.host) cannot run commands as \(become) with sudo -n, so nothing was checked: \(Excerpt.of(stderr.trimmingCharacters(in: .whitespacesAndNewlines), lines: 1)); allow \(target.user) passwordless sudo (NOPASSWD) on the node, or log in as \(become)",
            evidence: Excerpt.of(stderr, lines: 5), repair: nil)
    }

    /// The checks that judge one node from its own steps; the rest compare nodes at the end.
    static func nodeChecks(_ playbook: Playbook) -> [Playbook.Check] {
        playbook.checks.filter { $0.rule != nil || ($0.builtin.map { !$0.isClusterWide } ?? false) }
    }

    /// Why the probe says nothing about this node, when it does not: it had no peer to probe, or
    /// its output is missing or cut.
    static func probeUnknown(_ output: StepOutput?, planned: Bool) -> String? {
        guard planned else {
            return "the datapath probe could not run from this node: no peer has a matched Kubernetes Node with a probe pod or a VXLAN tunnel address"
        }
        guard let output else { return "the datapath probe gave no output (the node's batch ended before it)" }
        guard output.complete else { return "the datapath probe did not finish: \(output.problem)" }
        return nil
    }

    /// The cluster's facts from the first control-plane node that answers.
    private func clusterFacts(_ audit: PreparedAudit) async -> ClusterFacts {
        let steps = audit.playbook.steps(.oneControlPlane)
        guard !steps.isEmpty else { return ClusterFacts() }
        var errors: [String] = []
        var clusterOptions = options
        for node in audit.nodes where node.role == .controlPlane {
            let values = values(audit, node: node, facts: nil)
            let batch = StepBatch(
                steps.map { StepBatch.Step(name: $0.name, command: CommandTemplate.render($0.command ?? "", values), timeout: $0.timeout, maxOutput: max($0.maxOutput, Self.clusterStepOutput)) },
                parallel: true)
            clusterOptions.outputCap = batch.outputCap
            let outcome = await executor.run(SSHJob(target: audit.targets[node.name]!, commands: [batch.command]), options: clusterOptions, run: audit.run.id!)
            switch outcome.result {
            case .success(let results):
                let steps = results.first.map(batch.split) ?? [:]
                guard !steps.isEmpty else {
                    // Nothing ran (sudo refused, no shell): try the next control-plane node.
                    let stderr = results.first.map { String(decoding: $0.stderr, as: UTF8.self) } ?? ""
                    errors.append("\(node.name): no kubectl step ran: \(Excerpt.of(stderr.trimmingCharacters(in: .whitespacesAndNewlines), lines: 2))")
                    continue
                }
                var facts = ClusterFacts.parse(steps)
                facts.controlPlane = node.name
                let missing = batch.steps.map(\.name).filter { steps[$0] == nil }
                facts.errors = errors + facts.errors + missing.map { "\($0): gave no output (the batch ended before it)" }
                return facts
            case .failure(let error):
                errors.append("\(node.name): \(error.description)")
            }
        }
        var facts = ClusterFacts()
        facts.errors = errors.isEmpty ? ["no control-plane node in the inventory of cluster \(audit.cluster.name)"] : errors
        return facts
    }

    private func nodeBatch(_ audit: PreparedAudit, node: NodeRecord, facts: ClusterFacts, ring: DatapathProbe.Ring) -> StepBatch {
        let values = values(audit, node: node, facts: facts)
        var steps: [StepBatch.Step] = []
        for step in audit.playbook.steps(.eachNode) {
            let command: String
            if step.builtin == .datapathProbe {
                let settings = DatapathProbe.Settings(values)
                let targets = DatapathProbe.targets(for: node.name, ring: ring, facts: facts, settings: settings)
                guard !targets.isEmpty else { continue }
                command = DatapathProbe.command(targets, timeout: settings.timeout)
            } else {
                command = CommandTemplate.render(step.command ?? "", values)
            }
            steps.append(StepBatch.Step(name: step.name, command: command, timeout: step.timeout, maxOutput: step.maxOutput))
        }
        return StepBatch(steps)
    }

    /// `facts`: kubectl's, once read; the node's Kubernetes name and InternalIP come from them.
    /// Before they are read, kubectl runs on `node`, so that is the control plane.
    private func values(_ audit: PreparedAudit, node: NodeRecord, facts: ClusterFacts?) -> [String: String] {
        PlaybookContext(parameters: audit.parameters, cluster: audit.cluster, facts: facts, controlPlane: facts?.controlPlane ?? node.name)
            .values(node)
    }

    /// `nodeFindings`: each node's own findings, which tell whom a failed probe most likely
    /// concerns and whether the node's own repair already addresses it.
    private func clusterFindings(_ audit: PreparedAudit, facts: ClusterFacts, nodeFacts: [String: NodeFacts], nodeFindings: [String: [Finding]]) -> [Finding] {
        var findings: [Finding] = []
        let suspects = Set(nodeFindings.filter { $0.value.contains { $0.severity == .critical } }.keys)
        let explained = nodeFindings.mapValues { own in own.filter { $0.severity != .info && $0.repair != nil }.map(\.check) }
        if !audit.playbook.steps(.oneControlPlane).isEmpty, !facts.errors.isEmpty {
            let severity: Severity = facts.controlPlane == nil ? .critical : .warning
            findings.append(Finding(
                check: "K8S", severity: severity, node: nil,
                message: facts.controlPlane == nil
                    ? "could not read the cluster with kubectl on any control-plane node: peer and version checks were skipped"
                    : "some cluster facts could not be read with kubectl on \(facts.controlPlane!)",
                evidence: Excerpt.of(facts.errors.joined(separator: "\n")), repair: nil))
        }
        for check in audit.playbook.checks {
            switch check.builtin {
            case .offloadRisk:
                if let (severity, message, evidence) = CalicoChecks.offloadRisk(facts, nodes: nodeFacts) {
                    findings.append(Finding(check: check.id, severity: severity, node: nil, message: message, evidence: evidence, repair: check.repair))
                }
            case .datapath:
                let checkId = { (builtin: BuiltinCheck) in audit.playbook.checks.first { $0.builtin == builtin }?.id }
                findings += DatapathProbe.findings(
                    probes: nodeFacts.compactMapValues(\.probes), suspects: suspects, explained: explained,
                    checks: .init(datapath: check.id, repair: check.repair, offload: checkId(.checksumOffload), mtu: checkId(.vxlanMTU)))
            case .calicoPods:
                findings += CalicoChecks.calicoPods(facts, nodes: audit.nodes.map(\.name)).map {
                    Finding(check: check.id, severity: $0.1, node: $0.node, message: $0.2, evidence: $0.3, repair: check.repair)
                }
            case .vxlanDevice, .checksumOffload, .vxlanPeers, .firewallVXLANPort, .vxlanMTU, .networkManagerUnmanaged, .rpFilter, nil:
                continue
            }
        }
        return findings
    }

    // MARK: Evaluation

    /// Every node check on one node. Checks that could not tell file one `UNKNOWN` finding per
    /// reason (a warning with no repair), naming the checks it left open.
    static func evaluate(_ checks: [Playbook.Check], _ context: CalicoChecks.NodeContext) -> [Finding] {
        var findings: [Finding] = []
        var unknown: [(why: String, evidence: String, checks: [String])] = []
        for check in checks {
            for outcome in evaluate(check, context) {
                switch outcome {
                case .finding(let severity, let message, let evidence):
                    findings.append(Finding(check: check.id, severity: severity, node: context.node, message: message, evidence: evidence, repair: check.repair))
                case .unknown(let why, let evidence):
                    if let index = unknown.firstIndex(where: { $0.why == why }) { unknown[index].checks.append(check.id) } else { unknown.append((why, evidence, [check.id])) }
                }
            }
        }
        for entry in unknown {
            findings.append(Finding(
                check: "UNKNOWN", severity: .warning, node: context.node, message: "could not check \(entry.checks.joined(separator: ", ")): \(entry.why)",
                evidence: entry.evidence, repair: nil))
        }
        return findings
    }

    static func evaluate(_ check: Playbook.Check, _ context: CalicoChecks.NodeContext) -> [CalicoChecks.Outcome] {
        if let builtin = check.builtin { return CalicoChecks.node(builtin, context) }
        guard let rule = check.rule else { return [] }
        guard let output = context.steps[rule.step], output.complete else {
            return [.unknown("step \(rule.step): \(context.steps[rule.step]?.problem ?? "gave no output (the node's batch ended before it)")", "")]
        }
        var fires = true
        switch rule.exit {
        case .zero: fires = fires && output.exitStatus == 0
        case .nonzero: fires = fires && output.exitStatus != 0
        case .code(let code): fires = fires && output.exitStatus == code
        case nil: break
        }
        if let pattern = rule.stdoutMatches, let regex = try? Regex(pattern) { fires = fires && output.stdout.contains(regex) }
        if let pattern = rule.stdoutNotMatches, let regex = try? Regex(pattern) { fires = fires && !output.stdout.contains(regex) }
        guard fires else { return [] }
        let evidence = "exit \(output.exitStatus.map(String.init) ?? "?")\n" + Excerpt.of(output.stdout + output.stderr)
        return [.finding(check.severity, check.message ?? check.id, evidence)]
    }

    static func health(_ findings: [Finding], from start: NodeHealth = .healthy) -> NodeHealth {
        findings.reduce(start) { health, finding in
            switch (health, finding.severity) {
            case (.unreachable, _), (.broken, _): health
            case (_, .critical): .broken
            case (_, .warning): .degraded
            default: health
            }
        }
    }

    /// The worst node's state; a cluster with no node answering is unreachable.
    static func state(_ nodes: [NodeHealth], clusterFindings: [Finding]) -> ClusterState {
        if !nodes.isEmpty, nodes.allSatisfy({ $0 == .unreachable }) { return .unreachable }
        if nodes.contains(.broken) || nodes.contains(.unreachable) || clusterFindings.contains(where: { $0.severity == .critical }) { return .broken }
        if nodes.contains(.degraded) || clusterFindings.contains(where: { $0.severity == .warning }) { return .degraded }
        return .healthy
    }

    static func record(_ finding: Finding, runId: Int64, cluster: String, at date: Date) -> FindingRecord {
        FindingRecord(
            runId: runId, clusterName: cluster, nodeName: finding.node, checkId: finding.check, severity: finding.severity,
            message: finding.message, evidence: finding.evidence, repair: finding.repair, createdAt: date)
    }
}

/// What an audit stores about the cluster as a whole (`runs.summary`).
struct AuditSummary: Codable {
    var state: ClusterState
    var facts: ClusterFacts
}
