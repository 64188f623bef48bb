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
    let clock: @Sendable () -> Date

    /// kubectl's JSON for a large cluster runs to megabytes; it is parsed, never stored.
    static let clusterOutputCap = 64 << 20

    func run(_ audit: PreparedAudit) async throws {
        let runId = audit.run.id!
        // The node steps need kubectl's facts first: the probe's targets and each node's IP.
        let facts = await clusterFacts(audit)
        let nodeChecks = audit.playbook.checks.filter { $0.rule != nil || ($0.builtin.map { !CalicoChecks.clusterWide.contains($0) } ?? false) }

        var jobs: [SSHJob] = []
        var batches: [String: StepBatch] = [:]
        for node in audit.nodes {
            let batch = nodeBatch(audit, node: node, facts: facts)
            batches[node.name] = batch
            jobs.append(SSHJob(target: audit.targets[node.name]!, commands: [batch.command]))
        }
        let byName = Dictionary(uniqueKeysWithValues: audit.nodes.map { ($0.name, $0) })
        var worst: [String: NodeHealth] = [:]
        var nodeFacts: [String: NodeFacts] = [:]
        var done = 0
        for await outcome in executor.fanOut(jobs, concurrency: audit.concurrency, options: options) {
            done += 1
            let node = byName[outcome.target.name]!
            let now = clock()
            switch outcome.result {
            case .failure(let error):
                worst[node.name] = .unreachable
                let finding = Finding(check: "SSH", severity: .critical, node: node.name, message: "unreachable: \(error.description)", evidence: error.summary, repair: nil)
                try await store.recordAuditNode(
                    AuditNodeRecord(runId: runId, nodeId: node.id, nodeName: node.name, health: NodeHealth.unreachable.rawValue, bootId: nil, bootedAt: nil,
                                    kernel: nil, nicDriver: nil, facts: "{}", error: error.description, finishedAt: now),
                    findings: [Self.record(finding, runId: runId, cluster: audit.cluster.name, at: now)], seenAt: nil)
            case .success(let results):
                let steps = results.first.map { batches[node.name]!.split($0) } ?? [:]
                let nodeIP = facts.nodes[node.name]?.internalIp ?? node.address
                let parsed = NodeFacts.parse(steps, nodeIP: nodeIP)
                nodeFacts[node.name] = parsed
                let context = CalicoChecks.NodeContext(node: node.name, nodeIP: nodeIP, facts: parsed, steps: steps, cluster: facts)
                let findings = nodeChecks.flatMap { Self.evaluate($0, context) }
                let health = Self.health(findings)
                worst[node.name] = health
                let bootedAt = parsed.uptimeSeconds.map { now.addingTimeInterval(-$0) }
                try await store.recordAuditNode(
                    AuditNodeRecord(runId: runId, nodeId: node.id, nodeName: node.name, health: health.rawValue, bootId: parsed.bootId, bootedAt: bootedAt,
                                    kernel: parsed.kernel, nicDriver: parsed.nicDriver, facts: Self.json(parsed), error: nil, finishedAt: now),
                    findings: findings.map { Self.record($0, runId: runId, cluster: audit.cluster.name, at: now) }, seenAt: now)
                if let nodeId = node.id, let bootId = parsed.bootId {
                    _ = try await store.recordBoot(nodeId: nodeId, bootId: bootId, bootedAt: bootedAt, seenAt: now, source: "audit", runId: runId)
                }
            }
        }

        let late = clusterFindings(audit, facts: facts, nodeFacts: nodeFacts, suspects: Set(worst.filter { $0.value == .broken }.keys))
        var changed: [String: String] = [:]
        for finding in late {
            guard let node = finding.node, let current = worst[node], current != .unreachable else { continue }
            let updated = Self.health([finding], from: current)
            if updated != current {
                worst[node] = updated
                changed[node] = updated.rawValue
            }
        }
        let summary = AuditSummary(state: Self.state(Array(worst.values), clusterFindings: late.filter { $0.node == nil }), facts: facts)
        let now = clock()
        try await store.finishAudit(
            runId: runId, findings: late.map { Self.record($0, runId: runId, cluster: audit.cluster.name, at: now) }, health: changed,
            status: (done < jobs.count ? RunStatus.cancelled : RunStatus.succeeded).rawValue, summary: Self.json(summary), at: now)
    }

    /// The cluster's facts from the first control-plane node that answers.
    private func clusterFacts(_ audit: PreparedAudit) async -> ClusterFacts {
        let steps = audit.playbook.steps(.oneControlPlane)
        guard !steps.isEmpty else { return ClusterFacts() }
        var errors: [String] = []
        var clusterOptions = options
        clusterOptions.outputCap = Self.clusterOutputCap
        for node in audit.nodes where node.role == NodeRole.controlPlane.rawValue {
            let values = values(audit, node: node, nodeIP: node.address)
            let batch = StepBatch(
                steps.map { StepBatch.Step(name: $0.name, command: CommandTemplate.render($0.command ?? "", values), timeout: $0.timeout) }, parallel: true)
            let outcome = await executor.run(SSHJob(target: audit.targets[node.name]!, commands: [batch.command]), options: clusterOptions)
            switch outcome.result {
            case .success(let results):
                var facts = ClusterFacts.parse(results.first.map(batch.split) ?? [:])
                facts.controlPlane = node.name
                facts.errors = errors + facts.errors
                return facts
            case .failure(let error):
                errors.append("\(node.name): \(error.description)")
            }
        }
        var facts = ClusterFacts()
        facts.errors = errors.isEmpty ? ["no control-plane node in the inventory of cluster \(audit.cluster.name)"] : errors
        return facts
    }

    private func nodeBatch(_ audit: PreparedAudit, node: NodeRecord, facts: ClusterFacts) -> StepBatch {
        let values = values(audit, node: node, nodeIP: facts.nodes[node.name]?.internalIp ?? node.address)
        var steps: [StepBatch.Step] = []
        for step in audit.playbook.steps(.eachNode) {
            let command: String
            if step.builtin == "datapath-probe" {
                let targets = DatapathProbe.targets(
                    for: node.name, nodes: audit.nodes.map(\.name), facts: facts, limit: Int(values["probe_peers"] ?? "") ?? 8,
                    podPort: Int(values["probe_port"] ?? "") ?? 53, vtepPort: Int(values["vtep_port"] ?? "") ?? 10250)
                guard !targets.isEmpty else { continue }
                command = DatapathProbe.command(targets, timeout: Int(values["probe_timeout"] ?? "") ?? 2)
            } else {
                command = CommandTemplate.render(step.command ?? "", values)
            }
            steps.append(StepBatch.Step(name: step.name, command: command, timeout: step.timeout))
        }
        return StepBatch(steps)
    }

    private func values(_ audit: PreparedAudit, node: NodeRecord, nodeIP: String) -> [String: String] {
        var values = audit.parameters
        values["cluster"] = audit.cluster.name
        values["calico_namespace"] = audit.cluster.calicoNamespace
        values["node"] = node.name
        values["node_ip"] = nodeIP
        return values
    }

    /// `suspects`: nodes whose own checks found something critical.
    private func clusterFindings(_ audit: PreparedAudit, facts: ClusterFacts, nodeFacts: [String: NodeFacts], suspects: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        let offloadCheck = audit.playbook.checks.first { $0.builtin == "checksum-offload" }?.id
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
            case "offload-risk":
                if let (severity, message, evidence) = CalicoChecks.offloadRisk(facts, nodes: nodeFacts) {
                    findings.append(Finding(check: check.id, severity: severity, node: nil, message: message, evidence: evidence, repair: check.repair))
                }
            case "datapath":
                findings += DatapathProbe.findings(
                    probes: nodeFacts.compactMapValues(\.probes), suspects: suspects, check: check.id, offloadCheck: offloadCheck, repair: check.repair)
            case "calico-pods":
                findings += CalicoChecks.calicoPods(facts, nodes: audit.nodes.map(\.name)).map {
                    Finding(check: check.id, severity: $0.1, node: $0.node, message: $0.2, evidence: $0.3, repair: check.repair)
                }
            default:
                continue
            }
        }
        return findings
    }

    // MARK: Evaluation

    static func evaluate(_ check: Playbook.Check, _ context: CalicoChecks.NodeContext) -> [Finding] {
        if let builtin = check.builtin {
            return CalicoChecks.node(builtin, context).map {
                Finding(check: check.id, severity: $0.0, node: context.node, message: $0.1, evidence: $0.2, repair: check.repair)
            }
        }
        guard let rule = check.rule, let output = context.steps[rule.step] else { return [] }
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
        return [Finding(check: check.id, severity: check.severity, node: context.node, message: check.message ?? check.id, evidence: evidence, repair: check.repair)]
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
            runId: runId, clusterName: cluster, nodeName: finding.node, checkId: finding.check, severity: finding.severity.rawValue,
            message: finding.message, evidence: finding.evidence, repair: finding.repair, createdAt: date)
    }

    static func json(_ value: some Encodable) -> String {
        (try? JSONCoding.encoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// What an audit stores about the cluster as a whole (`runs.summary`).
struct AuditSummary: Codable {
    var state: ClusterState
    var facts: ClusterFacts
}
