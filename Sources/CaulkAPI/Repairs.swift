import Foundation

/// Body of `POST /v1/clusters/{name}/repair`.
public struct RepairRequest: Codable, Sendable, Equatable {
    /// A repair playbook; default `calico-recover`, which picks the repairs the audit calls for.
    public var playbook: String?
    /// Overrides of the playbooks' parameters.
    public var parameters: [String: String]?
    /// Only these nodes (each must have a finding the repair addresses).
    public var nodes: [String]?
    /// Nodes repaired at once; default 1 when a chosen repair disrupts traffic, else 8.
    public var batch: Int?
    /// Failed nodes after which the rollout stops (default 1: the first).
    public var maxFailures: Int?
    /// Seconds a repaired node has to pass the TCP probe to its healthy peers (default 60).
    public var verifyTimeout: Int?
    /// Plan and show every command; change nothing.
    public var dryRun: Bool?
    /// Needed by repairs that change the whole cluster in ways hard to undo (`ipip-fallback`).
    public var confirm: Bool?

    public init(
        playbook: String? = nil, parameters: [String: String]? = nil, nodes: [String]? = nil, batch: Int? = nil, maxFailures: Int? = nil,
        verifyTimeout: Int? = nil, dryRun: Bool? = nil, confirm: Bool? = nil
    ) {
        self.playbook = playbook
        self.parameters = parameters
        self.nodes = nodes
        self.batch = batch
        self.maxFailures = maxFailures
        self.verifyTimeout = verifyTimeout
        self.dryRun = dryRun
        self.confirm = confirm
    }
}

public enum RepairNodeOutcome: String, Codable, Sendable, CaseIterable {
    /// Not reached yet.
    case pending
    /// Dry run: what would be done.
    case planned
    case running
    /// Repaired, back up and passing the TCP probe.
    case recovered
    case failed
    /// Not touched: the rollout stopped first, or caulk cannot repair what it found.
    case skipped
}

public enum RepairStepOutcome: String, Codable, Sendable, CaseIterable {
    case planned, ok, failed
    case timedOut = "timed_out"
    /// Never ran: the host could not be reached.
    case error
}

/// One node in a repair.
public struct RepairNode: Codable, Sendable, Equatable {
    public var node: String
    /// Checks whose findings called for a repair.
    public var findings: [String]
    public var repairs: [String]
    public var outcome: RepairNodeOutcome
    public var reason: String?
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(
        node: String, findings: [String], repairs: [String], outcome: RepairNodeOutcome, reason: String?, startedAt: Date?, finishedAt: Date?
    ) {
        self.node = node
        self.findings = findings
        self.repairs = repairs
        self.outcome = outcome
        self.reason = reason
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// One step a repair ran (or, in a dry run, would run) on one host.
public struct RepairStep: Codable, Sendable, Equatable {
    public var id: Int64
    /// nil: cluster-wide.
    public var node: String?
    /// Where it ran: the node, or the control-plane node for `kubectl`.
    public var host: String
    public var repair: String
    public var step: String
    /// The command with its real values.
    public var command: String
    public var outcome: RepairStepOutcome
    public var exitStatus: Int?
    public var stdout: String
    public var stderr: String
    public var startedAt: Date
    public var durationMs: Int

    public init(
        id: Int64, node: String?, host: String, repair: String, step: String, command: String, outcome: RepairStepOutcome, exitStatus: Int?,
        stdout: String, stderr: String, startedAt: Date, durationMs: Int
    ) {
        self.id = id
        self.node = node
        self.host = host
        self.repair = repair
        self.step = step
        self.command = command
        self.outcome = outcome
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
        self.startedAt = startedAt
        self.durationMs = durationMs
    }
}

/// A repair's plan, progress and conclusion.
public struct RepairResult: Codable, Sendable, Equatable {
    public var dryRun: Bool
    public var auditBefore: Int64?
    public var auditAfter: Int64?
    /// The cluster's state after the repair (dry run: as audited).
    public var state: ClusterState?
    /// What the repair concluded, e.g. which node stopped the rollout and why.
    public var message: String?
    public var nodes: [RepairNode]
    public var steps: [RepairStep]

    public init(
        dryRun: Bool, auditBefore: Int64?, auditAfter: Int64?, state: ClusterState?, message: String?, nodes: [RepairNode], steps: [RepairStep]
    ) {
        self.dryRun = dryRun
        self.auditBefore = auditBefore
        self.auditAfter = auditAfter
        self.state = state
        self.message = message
        self.nodes = nodes
        self.steps = steps
    }
}

/// A cluster's auto-repair policy (`GET`/`PUT /v1/clusters/{name}/auto-repair`).
public struct AutoRepairPolicy: Codable, Sendable, Equatable {
    public var cluster: String
    /// Off by default.
    public var enabled: Bool
    /// Seconds after a reboot before the audit (the node needs time to boot and Felix to start).
    public var delaySeconds: Int
    /// Auto-repairs per cluster per rolling hour; beyond that a reboot is only recorded.
    public var maxPerHour: Int
    /// Largest share of the cluster's nodes disrupted at once (sets the rollout batch).
    public var maxDisruptedShare: Double
    public var updatedBy: String?
    public var updatedAt: Date?

    public init(
        cluster: String, enabled: Bool, delaySeconds: Int, maxPerHour: Int, maxDisruptedShare: Double, updatedBy: String?, updatedAt: Date?
    ) {
        self.cluster = cluster
        self.enabled = enabled
        self.delaySeconds = delaySeconds
        self.maxPerHour = maxPerHour
        self.maxDisruptedShare = maxDisruptedShare
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// Body of `PUT /v1/clusters/{name}/auto-repair`: fields left out keep their value.
public struct AutoRepairPolicyUpdate: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public var delaySeconds: Int?
    public var maxPerHour: Int?
    public var maxDisruptedShare: Double?

    public init(enabled: Bool? = nil, delaySeconds: Int? = nil, maxPerHour: Int? = nil, maxDisruptedShare: Double? = nil) {
        self.enabled = enabled
        self.delaySeconds = delaySeconds
        self.maxPerHour = maxPerHour
        self.maxDisruptedShare = maxDisruptedShare
    }
}

public enum AutoRepairOutcome: String, Codable, Sendable, CaseIterable {
    case pending, running, repaired, failed, skipped
}

/// What the auto-repair policy did after a cluster's reboot(s) (`GET /v1/auto-repairs`).
public struct AutoRepairDecision: Codable, Sendable, Equatable {
    public var id: Int64
    public var cluster: String
    /// The latest reboot it acts on, and how many it covers.
    public var rebootEventId: Int64?
    public var node: String?
    public var reboots: Int
    public var dueAt: Date
    public var decision: AutoRepairOutcome
    public var reason: String?
    public var auditRunId: Int64?
    public var repairRunId: Int64?
    public var createdAt: Date
    public var decidedAt: Date?

    public init(
        id: Int64, cluster: String, rebootEventId: Int64?, node: String?, reboots: Int, dueAt: Date, decision: AutoRepairOutcome, reason: String?,
        auditRunId: Int64?, repairRunId: Int64?, createdAt: Date, decidedAt: Date?
    ) {
        self.id = id
        self.cluster = cluster
        self.rebootEventId = rebootEventId
        self.node = node
        self.reboots = reboots
        self.dueAt = dueAt
        self.decision = decision
        self.reason = reason
        self.auditRunId = auditRunId
        self.repairRunId = repairRunId
        self.createdAt = createdAt
        self.decidedAt = decidedAt
    }
}
