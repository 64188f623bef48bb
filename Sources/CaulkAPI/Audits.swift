import Foundation

public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case info, warning, critical

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A node's state after an audit: `broken` has a critical finding, `degraded` a warning.
public enum NodeHealth: String, Codable, Sendable, CaseIterable {
    case healthy, degraded, broken, unreachable
}

/// A cluster's state: its worst node's, or `unknown` before any audit.
public enum ClusterState: String, Codable, Sendable, CaseIterable {
    case healthy, degraded, broken, unreachable, unknown
}

public struct Finding: Codable, Sendable, Equatable {
    /// The check that found it (`F1`…`F8`, `DP`, …).
    public var check: String
    public var severity: Severity
    /// nil: the cluster as a whole.
    public var node: String?
    public var message: String
    /// The output excerpt that proves it.
    public var evidence: String
    /// The playbook that repairs it.
    public var repair: String?

    public init(check: String, severity: Severity, node: String?, message: String, evidence: String, repair: String?) {
        self.check = check
        self.severity = severity
        self.node = node
        self.message = message
        self.evidence = evidence
        self.repair = repair
    }
}

/// One node in one audit.
public struct AuditNode: Codable, Sendable, Equatable {
    public var node: String
    public var health: NodeHealth
    public var bootId: String?
    public var bootedAt: Date?
    public var error: String?
    public var facts: NodeFacts?
    public var finishedAt: Date

    public init(node: String, health: NodeHealth, bootId: String?, bootedAt: Date?, error: String?, facts: NodeFacts?, finishedAt: Date) {
        self.node = node
        self.health = health
        self.bootId = bootId
        self.bootedAt = bootedAt
        self.error = error
        self.facts = facts
        self.finishedAt = finishedAt
    }
}

/// An audit's results so far: nodes as they finish, findings, and the cluster's facts.
public struct AuditResult: Codable, Sendable, Equatable {
    public var state: ClusterState
    public var nodes: [AuditNode]
    public var findings: [Finding]
    public var facts: ClusterFacts?

    public init(state: ClusterState, nodes: [AuditNode], findings: [Finding], facts: ClusterFacts?) {
        self.state = state
        self.nodes = nodes
        self.findings = findings
        self.facts = facts
    }
}

/// Body of `POST /v1/audits`: name clusters, or set `all`.
public struct AuditRequest: Codable, Sendable, Equatable {
    public var clusters: [String]?
    public var all: Bool?
    /// Default `calico-vxlan`.
    public var playbook: String?
    /// Overrides of the playbook's parameters.
    public var parameters: [String: String]?
    /// Nodes at once per cluster (default 64).
    public var concurrency: Int?

    public init(clusters: [String]? = nil, all: Bool? = nil, playbook: String? = nil, parameters: [String: String]? = nil, concurrency: Int? = nil) {
        self.clusters = clusters
        self.all = all
        self.playbook = playbook
        self.parameters = parameters
        self.concurrency = concurrency
    }
}

/// Answer of `POST /v1/audits`: one run per cluster, already started; follow them with `GET /v1/runs/{id}`.
public struct AuditsStarted: Codable, Sendable, Equatable {
    public var runs: [Run]
    /// Clusters not started because an audit of them was still running (with `all`).
    public var skipped: [String]

    public init(runs: [Run], skipped: [String]) {
        self.runs = runs
        self.skipped = skipped
    }
}

/// `GET /v1/clusters/{name}/health`: the latest finished audit.
public struct ClusterHealth: Codable, Sendable, Equatable {
    public var cluster: String
    public var state: ClusterState
    /// The audit it comes from; nil before the first.
    public var run: Run?
    public var result: AuditResult?

    public init(cluster: String, state: ClusterState, run: Run?, result: AuditResult?) {
        self.cluster = cluster
        self.state = state
        self.run = run
        self.result = result
    }
}

public struct RebootEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var cluster: String
    public var node: String
    public var oldBootId: String?
    public var newBootId: String
    /// When the boot began, from the node's uptime.
    public var bootedAt: Date?
    public var seenAt: Date
    /// `audit` or `beacon`.
    public var source: String
    public var runId: Int64?

    public init(id: Int64, cluster: String, node: String, oldBootId: String?, newBootId: String, bootedAt: Date?, seenAt: Date, source: String, runId: Int64?) {
        self.id = id
        self.cluster = cluster
        self.node = node
        self.oldBootId = oldBootId
        self.newBootId = newBootId
        self.bootedAt = bootedAt
        self.seenAt = seenAt
        self.source = source
        self.runId = runId
    }
}

/// Body of `POST /v1/nodes/{cluster}/{node}/boot`, sent by the boot beacon.
public struct BootAnnouncement: Codable, Sendable, Equatable {
    /// `/proc/sys/kernel/random/boot_id`.
    public var bootId: String
    /// First field of `/proc/uptime`.
    public var uptimeSeconds: Double?

    public init(bootId: String, uptimeSeconds: Double?) {
        self.bootId = bootId
        self.uptimeSeconds = uptimeSeconds
    }
}

/// Answer to a boot announcement: whether it was a new boot or one already recorded.
public struct BootRecorded: Codable, Sendable, Equatable {
    public var recorded: Bool
    public var event: RebootEvent?

    public init(recorded: Bool, event: RebootEvent?) {
        self.recorded = recorded
        self.event = event
    }
}

public struct Schedule: Codable, Sendable, Equatable {
    public var name: String
    public var cron: String
    /// nil: every cluster.
    public var cluster: String?
    public var playbook: String
    public var paused: Bool
    public var nextRunAt: Date
    public var lastRunAt: Date?
    public var createdBy: String

    public init(name: String, cron: String, cluster: String?, playbook: String, paused: Bool, nextRunAt: Date, lastRunAt: Date?, createdBy: String) {
        self.name = name
        self.cron = cron
        self.cluster = cluster
        self.playbook = playbook
        self.paused = paused
        self.nextRunAt = nextRunAt
        self.lastRunAt = lastRunAt
        self.createdBy = createdBy
    }
}

/// Body of `POST /v1/schedules`: `cluster`, or `all: true`.
public struct ScheduleCreate: Codable, Sendable, Equatable {
    public var name: String
    public var cron: String
    public var cluster: String?
    public var all: Bool?
    public var playbook: String?

    public init(name: String, cron: String, cluster: String? = nil, all: Bool? = nil, playbook: String? = nil) {
        self.name = name
        self.cron = cron
        self.cluster = cluster
        self.all = all
        self.playbook = playbook
    }
}

/// Body of `PATCH /v1/schedules/{name}`.
public struct ScheduleUpdate: Codable, Sendable, Equatable {
    public var paused: Bool?

    public init(paused: Bool?) { self.paused = paused }
}

/// `GET /v1/playbooks`: what can be run.
public struct PlaybookInfo: Codable, Sendable, Equatable {
    public var name: String
    public var kind: String
    public var description: String
    public var source: String
    public var steps: [String]
    public var checks: [String]
    /// Parameter names and their defaults.
    public var parameters: [String: String]
    /// Repairs: `disruptive`, `opt-in`, `needs-confirm`.
    public var traits: [String]
    /// A composite repair's choices, in order.
    public var repairs: [String]

    public init(
        name: String, kind: String, description: String, source: String, steps: [String], checks: [String], parameters: [String: String],
        traits: [String] = [], repairs: [String] = []
    ) {
        self.name = name
        self.kind = kind
        self.description = description
        self.source = source
        self.steps = steps
        self.checks = checks
        self.parameters = parameters
        self.traits = traits
        self.repairs = repairs
    }
}

/// Body of `POST /v1/clusters/{name}/beacon`: install the boot beacon on the cluster's nodes.
public struct BeaconRequest: Codable, Sendable, Equatable {
    /// The caulk service as the nodes reach it, e.g. `http://caulk.example:8420`.
    public var url: String
    /// Only these nodes; absent: every node.
    public var nodes: [String]?

    public init(url: String, nodes: [String]? = nil) {
        self.url = url
        self.nodes = nodes
    }
}
