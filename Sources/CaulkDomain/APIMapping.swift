import CaulkAPI
import CaulkStore
import Foundation

// How each stored record reads on the wire: one mapping per type, used by every service that
// answers with it. Stored enums are typed already (an unknown value fails the read), so nothing
// here picks a default for what it cannot read.

extension Cluster {
    init(_ row: ClusterRow) {
        let record = row.cluster
        self.init(
            name: record.name, apiEndpoint: record.apiEndpoint, podCidr: record.podCidr, encapsulation: record.encapsulation,
            calicoNamespace: record.calicoNamespace,
            ssh: SSHDefaults(user: record.sshUser, port: record.sshPort, key: record.sshKey, bastion: record.bastion, become: record.sshBecome),
            nodeCount: row.nodeCount, createdAt: record.createdAt, updatedAt: record.updatedAt)
    }
}

extension Node {
    init(_ row: NodeRow) {
        let record = row.node
        self.init(
            cluster: row.clusterName, name: record.name, address: record.address, role: record.role, labels: record.labels,
            ssh: SSHOverrides(user: record.sshUser, port: record.sshPort, key: record.sshKey, bastion: record.bastion, become: record.sshBecome),
            hostKey: record.hostKey, lastBootId: row.observed?.lastBootId, lastSeenAt: row.observed?.lastSeenAt, createdAt: record.createdAt,
            updatedAt: record.updatedAt)
    }
}

extension TokenInfo {
    init(_ record: TokenRecord) {
        self.init(
            name: record.name, role: record.role, exec: record.mayExec, clusters: record.clusterNames, createdAt: record.createdAt,
            expiresAt: record.expiresAt,
            lastUsedAt: record.lastUsedAt, revokedAt: record.revokedAt)
    }
}

extension Run {
    /// `outcomes`: the run's hosts so far, counted by outcome (`Store.runOutcomeCounts`).
    init(_ record: RunRecord, outcomes: [String: Int]) {
        self.init(
            id: record.id!, kind: record.kind, cluster: record.clusterName, status: record.status, trigger: record.trigger,
            requester: record.requester, command: record.command, parameters: record.parameters, hostCount: record.hostCount,
            outcomes: outcomes, startedAt: record.startedAt, finishedAt: record.finishedAt, playbook: record.playbook,
            dryRun: record.dryRun ? true : nil, error: record.error, cancelledBy: record.cancelledBy)
    }
}

extension RunHost {
    init(_ record: RunHostRecord) {
        self.init(
            node: record.nodeName, address: record.address, outcome: record.outcome, exitStatus: record.exitStatus,
            exitSignal: record.exitSignal, stdout: record.stdout, stderr: record.stderr, stdoutTruncated: record.stdoutTruncated,
            stderrTruncated: record.stderrTruncated, errorKind: record.errorKind, error: record.error, durationMs: record.durationMs)
    }
}

extension AuditNode {
    init(_ record: AuditNodeRecord) {
        self.init(
            node: record.nodeName, health: record.health, bootId: record.bootId, bootedAt: record.bootedAt, error: record.error,
            facts: try? JSONCoding.decoder().decode(NodeFacts.self, from: Data(record.facts.utf8)), finishedAt: record.finishedAt)
    }
}

extension Finding {
    init(_ record: FindingRecord) {
        self.init(
            check: record.checkId, severity: record.severity, node: record.nodeName, message: record.message, evidence: record.evidence,
            repair: record.repair)
    }
}

extension RepairNode {
    init(_ record: RepairNodeRecord) {
        self.init(
            node: record.nodeName, findings: record.findings, repairs: record.repairs, outcome: record.outcome, reason: record.reason,
            startedAt: record.startedAt, finishedAt: record.finishedAt)
    }
}

extension RepairStep {
    init(_ record: RepairStepRecord) {
        self.init(
            id: record.id!, node: record.nodeName, host: record.host, repair: record.repair, step: record.step, command: record.command,
            outcome: record.outcome, exitStatus: record.exitStatus, stdout: record.stdout, stderr: record.stderr,
            startedAt: record.startedAt, durationMs: record.durationMs)
    }
}

extension RebootEvent {
    init(_ record: RebootEventRecord) {
        self.init(
            id: record.id!, cluster: record.clusterName, node: record.nodeName, oldBootId: record.oldBootId, newBootId: record.newBootId,
            bootedAt: record.bootedAt, seenAt: record.seenAt, source: record.source, runId: record.runId)
    }
}

extension AutoRepairDecision {
    init(_ record: AutoRepairDecisionRecord) {
        self.init(
            id: record.id!, cluster: record.clusterName, rebootEventId: record.rebootEventId, node: record.nodeName, reboots: record.reboots,
            dueAt: record.dueAt, decision: record.decision, reason: record.reason, auditRunId: record.auditRunId,
            repairRunId: record.repairRunId, createdAt: record.createdAt, decidedAt: record.decidedAt)
    }
}

extension AutoRepairPolicy {
    /// A cluster without a policy row has auto-repair off, with the default limits.
    init(_ record: AutoRepairPolicyRecord?, cluster: String) {
        let defaults = AutoRepairService.defaults
        self.init(
            cluster: cluster, enabled: record?.enabled ?? false, delaySeconds: record?.delaySeconds ?? defaults.delaySeconds,
            maxPerHour: record?.maxPerHour ?? defaults.maxPerHour, maxDisruptedShare: record?.maxDisruptedShare ?? defaults.maxDisruptedShare,
            updatedBy: record?.updatedBy, updatedAt: record?.updatedAt)
    }
}
