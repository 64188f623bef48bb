import Foundation

/// Body of `POST /v1/clusters/{name}/exec`. Without `nodes`, `role` or `labels`, every node runs it.
public struct ExecRequest: Codable, Sendable, Equatable {
    public var command: String
    public var nodes: [String]?
    public var role: NodeRole?
    public var labels: [String]?
    /// Per-node command timeout in seconds (default 60).
    public var timeout: Int?
    /// Hosts at once (default 64).
    public var concurrency: Int?

    public init(command: String, nodes: [String]? = nil, role: NodeRole? = nil, labels: [String]? = nil, timeout: Int? = nil, concurrency: Int? = nil) {
        self.command = command
        self.nodes = nodes
        self.role = role
        self.labels = labels
        self.timeout = timeout
        self.concurrency = concurrency
    }
}

/// What a run does. Each kind keeps its own detail beside the run: exec and beacon installs one
/// result per host, audits their nodes and findings, repairs their plan and steps.
public enum RunKind: String, Codable, Sendable, CaseIterable {
    case exec, audit, repair
    /// Installing the boot beacon on a cluster's nodes (`caulk beacon install`).
    case beaconInstall = "beacon-install"
}

public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, succeeded, failed, cancelled, interrupted
}

/// Who started a run: a person through the CLI or the API, a schedule, or auto-repair.
public enum RunTrigger: String, Codable, Sendable, CaseIterable {
    case cli, api, schedule, auto
}

public enum HostOutcomeKind: String, Codable, Sendable, CaseIterable {
    /// Ran and exited 0.
    case ok
    /// Ran and exited non-zero or by a signal.
    case failed
    /// Ran past its timeout; the channel was closed and the command stopped.
    case timedOut = "timed_out"
    /// Never ran: unreachable, refused, host key not accepted, authentication failed…
    case error
}

public struct Run: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: RunKind
    public var cluster: String
    public var status: RunStatus
    public var trigger: RunTrigger
    public var requester: String
    public var command: String?
    public var parameters: [String: String]
    public var hostCount: Int
    /// Hosts finished so far, by outcome.
    public var outcomes: [String: Int]
    public var startedAt: Date
    public var finishedAt: Date?
    /// The playbook of an audit or repair.
    public var playbook: String?
    /// A repair that only planned (true); absent otherwise.
    public var dryRun: Bool?
    /// Why the run failed as a whole, when caulk could not go on (a node's own failure is in its result).
    public var error: String?
    /// Who asked the run to stop (`caulk runs cancel`), when someone did.
    public var cancelledBy: String?

    public init(
        id: Int64, kind: RunKind, cluster: String, status: RunStatus, trigger: RunTrigger, requester: String, command: String?,
        parameters: [String: String], hostCount: Int, outcomes: [String: Int], startedAt: Date, finishedAt: Date?, playbook: String? = nil,
        dryRun: Bool? = nil, error: String? = nil, cancelledBy: String? = nil
    ) {
        self.error = error
        self.cancelledBy = cancelledBy
        self.playbook = playbook
        self.dryRun = dryRun
        self.id = id
        self.kind = kind
        self.cluster = cluster
        self.status = status
        self.trigger = trigger
        self.requester = requester
        self.command = command
        self.parameters = parameters
        self.hostCount = hostCount
        self.outcomes = outcomes
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// What one host did in a run.
public struct RunHost: Codable, Sendable, Equatable {
    public var node: String
    public var address: String
    public var outcome: HostOutcomeKind
    public var exitStatus: Int?
    public var exitSignal: String?
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// Short cause when `outcome` is `error`: `connection-refused`, `host-key-changed`, …
    public var errorKind: String?
    public var error: String?
    public var durationMs: Int

    public init(
        node: String, address: String, outcome: HostOutcomeKind, exitStatus: Int?, exitSignal: String?, stdout: String,
        stderr: String, stdoutTruncated: Bool, stderrTruncated: Bool, errorKind: String?, error: String?, durationMs: Int
    ) {
        self.node = node
        self.address = address
        self.outcome = outcome
        self.exitStatus = exitStatus
        self.exitSignal = exitSignal
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
        self.errorKind = errorKind
        self.error = error
        self.durationMs = durationMs
    }
}

public struct RunDetail: Codable, Sendable, Equatable {
    public var run: Run
    /// Exec: each host's command result.
    public var hosts: [RunHost]
    /// Audit: nodes done so far, findings, cluster facts.
    public var audit: AuditResult?
    /// Repair: the plan, each step as it finished, the audits before and after.
    public var repair: RepairResult?

    public init(run: Run, hosts: [RunHost], audit: AuditResult? = nil, repair: RepairResult? = nil) {
        self.run = run
        self.hosts = hosts
        self.audit = audit
        self.repair = repair
    }
}

/// One line of the `application/x-ndjson` stream `GET /v1/runs/{id}/events` answers with: an
/// audit's nodes one `node` event each, in the order they finished, a repair's steps one `step`
/// event each as they finish, then `finished` when the run ends (other kinds: only `finished`). A node's `health` is what its own checks said;
/// checks that compare nodes may still change it when the run ends (`GET /v1/runs/{id}`).
public struct RunEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case node, step, finished }

    public var event: Kind
    public var run: Int64
    public var cluster: String
    /// `node`: pass it as `after` to resume after this event.
    public var seq: Int64?
    public var node: String?
    public var health: NodeHealth?
    /// `node`: the warning and critical checks found on it.
    public var checks: [String]?
    public var error: String?
    /// `finished`: how the run ended.
    public var status: RunStatus?
    /// `step` (a repair's, `node` absent for a cluster-wide one): which, where, how it ended and
    /// how long it took; `GET /v1/runs/{id}` has its command and output.
    public var repair: String?
    public var step: String?
    public var host: String?
    public var outcome: RepairStepOutcome?
    public var durationMs: Int?

    public init(
        event: Kind, run: Int64, cluster: String, seq: Int64? = nil, node: String? = nil, health: NodeHealth? = nil, checks: [String]? = nil,
        error: String? = nil, status: RunStatus? = nil
    ) {
        self.event = event
        self.run = run
        self.cluster = cluster
        self.seq = seq
        self.node = node
        self.health = health
        self.checks = checks
        self.error = error
        self.status = status
    }
}

/// One line of the `application/x-ndjson` stream `POST /v1/clusters/{name}/exec` answers with:
/// first `started` (with the run), then one `host` per node as it finishes, last `finished`.
public struct ExecEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case started, host, finished }

    public var event: Kind
    public var run: Run?
    public var host: RunHost?

    public init(event: Kind, run: Run? = nil, host: RunHost? = nil) {
        self.event = event
        self.run = run
        self.host = host
    }
}

/// Body of `POST /v1/clusters/{name}/trust`: pin the host keys nodes show now.
public struct TrustRequest: Codable, Sendable, Equatable {
    /// Nodes to trust; absent: every node of the cluster without a pinned key.
    public var nodes: [String]?
    /// Pin only if the node shows exactly this fingerprint (checked out of band).
    public var expect: String?

    public init(nodes: [String]? = nil, expect: String? = nil) {
        self.nodes = nodes
        self.expect = expect
    }
}

public struct TrustResult: Codable, Sendable, Equatable {
    public var node: String
    /// The fingerprint the node showed, when it could be reached.
    public var hostKey: String?
    /// Whether it is now pinned.
    public var pinned: Bool
    public var previous: String?
    public var error: String?

    public init(node: String, hostKey: String?, pinned: Bool, previous: String?, error: String?) {
        self.node = node
        self.hostKey = hostKey
        self.pinned = pinned
        self.previous = previous
        self.error = error
    }
}
