import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation
import Logging

/// The history of every kind of run. Exec, audits, repairs and beacon installs start their runs
/// here (recorded `running` before any node is touched), finish them here, and every run is read
/// back here, in a list or in full with what its kind keeps beside it.
public struct RunHistory: Sendable {
    let store: Store
    let clock: @Sendable () -> Date
    let logger: Logger
    let metrics: CaulkMetrics

    public init(
        store: Store, logger: Logger = Logger(label: "caulk"), metrics: CaulkMetrics = CaulkMetrics(), clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
    }

    /// What a new run is: the rest (status `running`, start time) is filled in when it starts.
    struct Start: Sendable {
        var kind: RunKind
        var cluster: ClusterRecord
        var trigger: RunTrigger
        var requester: String
        var command: String?
        var parameters: [String: String] = [:]
        var hostCount: Int
        var playbook: String?

        func record(at date: Date) -> RunRecord {
            RunRecord(
                kind: kind, clusterId: cluster.id, clusterName: cluster.name, trigger: trigger, requester: requester, command: command,
                parameters: parameters, hostCount: hostCount, startedAt: date, playbook: playbook)
        }
    }

    var activity: ActivityLog { ActivityLog(store: store, clock: clock) }
    var notifications: Notifications { Notifications(store: store, logger: logger, clock: clock) }

    /// Records the run as running, and in the activity log when someone (not a schedule or
    /// auto-repair) started it.
    func start(_ start: Start) async throws -> RunRecord {
        try await store.insert(start.record(at: clock()), activity: started)
    }

    /// A run's `run.start` entry, made once it has its id.
    private var started: @Sendable (RunRecord) -> ActivityRecord? {
        let activity = activity
        return { run in
            guard run.trigger == .cli || run.trigger == .api else { return nil }
            var after = ["kind": run.kind.rawValue, "trigger": run.trigger.rawValue]
            if let playbook = run.playbook { after["playbook"] = playbook }
            if let command = run.command { after["command"] = command }
            if run.dryRun { after["dry_run"] = "true" }
            return activity.entry(run.requester, .runStart, cluster: run.clusterName, target: "run \(run.id!)", after: after)
        }
    }

    /// Records the run as running unless a run of its kind for its cluster already is (the
    /// cluster's lock for that kind): then that run, and nothing is recorded. A dry run takes no
    /// lock and is always recorded.
    func startExclusive(_ start: Start, dryRun: Bool = false) async throws -> RunStart {
        var record = start.record(at: clock())
        record.dryRun = dryRun
        return dryRun ? .started(try await store.insert(record, activity: started)) : try await store.startRun(record, activity: started)
    }

    func finish(_ id: Int64, _ status: RunStatus) async throws {
        try await store.finishRun(id: id, status: status, at: clock())
        await ended(id)
    }

    /// Run `id` was just recorded as ended: counted and timed for metrics, and told to the
    /// webhooks that take it.
    func ended(_ id: Int64) async {
        guard let run = try? await store.runRecord(id: id), run.status != .running else { return }
        metrics.runEnded(kind: run.kind, status: run.status, startedAt: run.startedAt, at: run.finishedAt ?? clock())
        await notifications.runEnded(run)
    }

    /// The run could not go on: it ends `failed` with why, and the log says so with its id. A
    /// failure to record that is logged too; the next start marks the run interrupted.
    func fail(_ id: Int64, _ error: any Error) async {
        let reason = String(describing: error)
        logger.error("run \(id) failed: \(reason)", metadata: ["run": "\(id)"])
        do {
            // A run its own code ended before the error reached here is counted once, then.
            let running = try await store.runRecord(id: id)?.status == .running
            try await store.finishRun(id: id, status: .failed, error: String(reason.prefix(4096)), at: clock())
            if running { await ended(id) }
        } catch {
            logger.error("run \(id): could not record its failure: \(error)", metadata: ["run": "\(id)"])
        }
    }

    /// Asks a running audit or repair to stop, as `requester`. A repair finishes and verifies the
    /// node (or batch) it is on, leaves the rest untouched and ends `cancelled`; an audit starts no
    /// more nodes and ends `cancelled` with those it finished. Either releases its cluster's lock
    /// when it ends. Asking again is harmless.
    public func cancel(_ id: Int64, requester: String) async throws -> Run {
        let activity = activity
        switch try await store.requestCancel(runId: id, kinds: [.audit, .repair], by: requester, at: clock(), activity: { run in
            activity.entry(requester, .runCancel, cluster: run.clusterName, target: "run \(id)", after: ["kind": run.kind.rawValue])
        }) {
        case .notFound:
            throw DomainError.notFound("no run \(id)")
        case .notRunning(let record):
            throw DomainError.conflict("run \(id) has already ended (\(record.status.rawValue)); there is nothing to cancel")
        case .otherKind(let record):
            throw DomainError.conflict("run \(id) is \(record.kind == .exec ? "an exec" : "a beacon install"), which ends with its request and cannot be cancelled; only audits and repairs can")
        case .alreadyRequested(let record):
            return try await run(record)
        case .requested(let record):
            logger.notice("run \(id): \(requester) asked it to stop", metadata: ["run": "\(id)"])
            return try await run(record)
        }
    }

    /// Runs a process that died left `running` are `interrupted` (see `Store.markInterruptedRuns`),
    /// and webhooks are told of the repairs and auto-repair decisions among them. Returns how many runs.
    public func interruptLeftovers() async throws -> Int {
        let interrupted = try await store.markInterruptedRuns(at: clock())
        for run in interrupted.runs { await notifications.runEnded(run) }
        for decision in interrupted.decisions {
            await notifications.autoRepair(
                cluster: decision.clusterName, decision.decision, decision.reason ?? Store.interruptedReason, audit: decision.auditRunId,
                repair: decision.repairRunId)
        }
        return interrupted.runs.count
    }

    // MARK: Reading

    /// Runs, newest first.
    /// Runs, newest first; `within`: only these clusters' (a token limited to them).
    public func list(cluster: String?, kind: RunKind?, within: [String]? = nil, paging: Paging) async throws -> Page<Run> {
        // Newest first: the cursor is the smallest id seen.
        let records = try await store.runs(cluster: cluster, kind: kind, within: within, before: paging.after, limit: paging.limit)
        let outcomes = try await store.runOutcomeCounts(ids: records.map { $0.id! })
        let items = records.map { Run($0, outcomes: outcomes[$0.id!] ?? [:]) }
        return Page(items: items, nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    /// A run with what its kind keeps: each host's result (exec, beacon installs), the audit's
    /// nodes and findings, or the repair's plan and steps.
    public func show(_ id: Int64) async throws -> RunDetail {
        guard let (record, hosts) = try await store.run(id: id) else { throw DomainError.notFound("no run \(id)") }
        var detail = RunDetail(run: try await run(record), hosts: Self.withinBudget(hosts.map(RunHost.init)))
        switch record.kind {
        case .exec, .beaconInstall: break
        case .audit: detail.audit = try await audit(record)
        case .repair: detail.repair = try await repair(record)
        }
        return detail
    }

    /// A follower of run `id` from after event `after` (`GET /v1/runs/{id}/events`); throws
    /// before anything is streamed when there is no such run.
    public func follower(_ id: Int64, after: Int64 = 0) async throws -> RunFollower {
        guard after >= 0 else { throw DomainError.invalid(field: "after", message: "after is the seq of an event already seen (0 or more)") }
        guard let record = try await store.runRecord(id: id) else { throw DomainError.notFound("no run \(id)") }
        return RunFollower(store: store, run: record, after: after)
    }

    /// The cluster a run is of (to check who may see or stop it).
    public func cluster(ofRun id: Int64) async throws -> String {
        guard let record = try await store.runRecord(id: id) else { throw DomainError.notFound("no run \(id)") }
        return record.clusterName
    }

    /// The run alone, without what its kind keeps beside it.
    func run(id: Int64) async throws -> Run {
        guard let record = try await store.runRecord(id: id) else { throw DomainError.notFound("no run \(id)") }
        return try await run(record)
    }

    /// The run as the API shows it, with its hosts counted by outcome so far.
    func run(_ record: RunRecord) async throws -> Run {
        Run(record, outcomes: try await store.runOutcomeCounts(ids: [record.id!])[record.id!] ?? [:])
    }

    /// An audit's nodes, findings and facts so far.
    func audit(_ run: RunRecord) async throws -> AuditResult {
        let (nodes, findings) = try await store.audit(runId: run.id!)
        let summary = try? JSONCoding.decoder().decode(AuditSummary.self, from: Data(run.summary.utf8))
        let apiFindings = findings.map(Finding.init)
        return AuditResult(
            state: summary?.state ?? AuditRunner.state(nodes.map(\.health), clusterFindings: apiFindings.filter { $0.node == nil }),
            nodes: nodes.map(AuditNode.init), findings: apiFindings, facts: summary?.facts)
    }

    func audit(runId: Int64) async throws -> AuditResult {
        guard let run = try await store.runRecord(id: runId) else { throw DomainError.notFound("no run \(runId)") }
        return try await audit(run)
    }

    /// A repair's plan, steps and audits.
    func repair(_ run: RunRecord) async throws -> RepairResult {
        let (nodes, steps) = try await store.repair(runId: run.id!)
        let summary = try? JSONCoding.decoder().decode(RepairSummary.self, from: Data(run.summary.utf8))
        return RepairResult(
            dryRun: run.dryRun, auditBefore: run.auditBeforeId, auditAfter: run.auditAfterId, state: summary?.state, message: summary?.message,
            nodes: nodes.map(RepairNode.init), steps: steps.map(RepairStep.init))
    }

    /// Node output one run's answer carries at most (a 2,000-node exec could otherwise answer with
    /// 250 MiB). Past it, every node's stdout and stderr are cut to an equal share, at least 4 KiB,
    /// and flagged truncated; a table shows a few lines per node anyway.
    public static let detailOutputBudget = 16 << 20

    static func withinBudget(_ hosts: [RunHost]) -> [RunHost] {
        let total = hosts.reduce(0) { $0 + $1.stdout.utf8.count + $1.stderr.utf8.count }
        guard total > detailOutputBudget else { return hosts }
        let share = max(4096, detailOutputBudget / (2 * hosts.count))
        return hosts.map { host in
            var host = host
            if host.stdout.utf8.count > share {
                host.stdout = String(decoding: host.stdout.utf8.prefix(share), as: UTF8.self)
                host.stdoutTruncated = true
            }
            if host.stderr.utf8.count > share {
                host.stderr = String(decoding: host.stderr.utf8.prefix(share), as: UTF8.self)
                host.stderrTruncated = true
            }
            return host
        }
    }
}

/// How a host's SSH outcome is kept: output as text SQLite can store, durations in milliseconds.
enum HostRecords {
    /// One host of an exec or beacon install. Output was already cut to the engine's cap.
    static func record(_ outcome: HostOutcome, runId: Int64, address: String, at date: Date) -> RunHostRecord {
        let ms = milliseconds(outcome.duration)
        switch outcome.result {
        case .success(let results):
            let result = results.first
            let kind: HostOutcomeKind = result.map { $0.timedOut ? .timedOut : $0.succeeded ? .ok : .failed } ?? .ok
            return RunHostRecord(
                runId: runId, nodeName: outcome.target.name, address: address, outcome: kind,
                exitStatus: result?.exitStatus.map(Int.init), exitSignal: result?.exitSignal, stdout: text(result?.stdout ?? []),
                stderr: text(result?.stderr ?? []), stdoutTruncated: result?.stdoutTruncated ?? false,
                stderrTruncated: result?.stderrTruncated ?? false,
                errorKind: kind == .timedOut ? "timeout" : nil, error: kind == .timedOut ? "timed out; the channel was closed" : nil,
                hostKey: outcome.hostKey, durationMs: ms, finishedAt: date)
        case .failure(let error):
            return RunHostRecord(
                runId: runId, nodeName: outcome.target.name, address: address, outcome: .error,
                exitStatus: nil, exitSignal: nil, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false,
                errorKind: error.summary, error: error.description, hostKey: outcome.hostKey, durationMs: ms, finishedAt: date)
        }
    }

    /// Output as stored: SQLite text stops at NUL, so binary output is shown, not lost.
    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\0", with: "\u{FFFD}")
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A summary or facts object as the JSON text a run or audit node keeps.
    static func json(_ value: some Encodable) -> String {
        (try? JSONCoding.encoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Follows a run as it happens: each audit node (or repair step) recorded after the cursor as it
/// lands, then `finished` once the run has ended. The database is the source, read every `poll`, so a
/// follower that reconnects with the last `seq` it saw misses nothing and sees nothing twice.
public struct RunFollower: Sendable {
    let store: Store
    let run: RunRecord
    let after: Int64
    /// Events read at most per look at the database.
    static let batch = 500

    public func run(poll: Duration = .milliseconds(250), emit: (RunEvent) async throws -> Void) async throws {
        let id = run.id!
        var cursor = after
        while true {
            // The status before the nodes: a run seen ended has all its nodes recorded already.
            guard let status = try await store.runRecord(id: id)?.status else { throw DomainError.notFound("run \(id) was deleted") }
            var full = false
            switch run.kind {
            case .audit:
                let nodes = try await store.auditNodeEvents(runId: id, after: cursor, limit: Self.batch)
                for node in nodes {
                    try await emit(RunEvent(
                        event: .node, run: id, cluster: run.clusterName, seq: node.seq, node: node.node, health: node.health, checks: node.checks,
                        error: node.error))
                    cursor = node.seq
                }
                full = nodes.count == Self.batch
            case .repair:
                let steps = try await store.repairStepEvents(runId: id, after: cursor, limit: Self.batch)
                for step in steps {
                    var event = RunEvent(event: .step, run: id, cluster: run.clusterName, seq: step.id, node: step.nodeName)
                    (event.repair, event.step, event.host, event.outcome, event.durationMs) = (step.repair, step.step, step.host, step.outcome, step.durationMs)
                    try await emit(event)
                    cursor = step.id!
                }
                full = steps.count == Self.batch
            case .exec, .beaconInstall:
                break
            }
            if full { continue }
            if status != .running {
                try await emit(RunEvent(event: .finished, run: id, cluster: run.clusterName, status: status))
                return
            }
            try await Task.sleep(for: poll)
        }
    }
}
