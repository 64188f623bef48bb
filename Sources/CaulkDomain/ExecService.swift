import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// Ad-hoc commands on a cluster's nodes, recorded as runs, and pinning host keys on request.
public struct ExecService: Sendable {
    let store: Store
    let executor: SSHExecutor
    let options: SSHOptions
    let passphrase: Secret?
    let clock: @Sendable () -> Date

    /// Output kept in the history per stream and host; the SSH engine's own cap bounds memory.
    public static let storedOutputCap = 64 * 1024
    public static let maxCommandBytes = 64 * 1024

    public init(store: Store, executor: SSHExecutor, options: SSHOptions = SSHOptions(), passphrase: Secret? = nil, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.executor = executor
        self.options = Self.storing(options)
        self.passphrase = passphrase
        self.clock = clock
    }

    /// Options that keep no more output in memory than the history will: with 64 hosts in flight
    /// that is 8 MiB at most.
    static func storing(_ options: SSHOptions) -> SSHOptions {
        var options = options
        options.outputCap = min(options.outputCap, storedOutputCap)
        return options
    }

    /// An exec checked, resolved and recorded as `running`, ready to run.
    public struct Prepared: Sendable {
        public let run: Run
        let jobs: [SSHJob]
        let nodeIds: [String: Int64]
        let addresses: [String: String]
        let concurrency: Int
    }

    /// Validates the request, picks the nodes and records the run; nothing is sent to any node yet.
    public func prepare(_ request: ExecRequest, cluster clusterName: String, requester: String, trigger: String) async throws -> Prepared {
        let command = request.command.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !command.isEmpty else { throw DomainError.invalid(field: "command", message: "is empty") }
        guard request.command.utf8.count <= Self.maxCommandBytes, !request.command.contains("\0") else {
            throw DomainError.invalid(field: "command", message: "must be at most \(Self.maxCommandBytes) bytes, without NUL")
        }
        let timeout = request.timeout ?? 60
        guard (1...86_400).contains(timeout) else { throw DomainError.invalid(field: "timeout", message: "must be 1–86400 seconds") }
        let concurrency = request.concurrency ?? 64
        guard (1...1024).contains(concurrency) else { throw DomainError.invalid(field: "concurrency", message: "must be 1–1024") }

        let cluster = try await store.requireCluster(named: clusterName).cluster
        let nodes = try await selectNodes(cluster: cluster, request: request)
        let targets = SSHTargets(store: store, passphrase: passphrase)
        var jobs: [SSHJob] = []
        for node in nodes {
            jobs.append(SSHJob(target: try await targets.target(cluster: cluster, node: node), commands: [SSHCommand(request.command, timeout: .seconds(timeout))]))
        }
        var parameters = ["timeout": String(timeout), "concurrency": String(concurrency)]
        if let names = request.nodes { parameters["nodes"] = names.joined(separator: ",") }
        if let role = request.role { parameters["role"] = role.rawValue }
        if let labels = request.labels, !labels.isEmpty { parameters["labels"] = labels.joined(separator: ",") }
        let record = try await store.insert(RunRecord(
            kind: "exec", clusterId: cluster.id, clusterName: cluster.name, trigger: trigger, requester: requester,
            command: request.command, parameters: parameters, hostCount: jobs.count, startedAt: clock()))
        return Prepared(
            run: Self.api(record, outcomes: [:]), jobs: jobs,
            nodeIds: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.id!) }),
            addresses: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.address) }),
            concurrency: concurrency)
    }

    /// Runs a prepared exec, recording each host the moment it finishes and handing it to
    /// `onHost`. When `onHost` throws (the caller went away), no new host is started, running
    /// ones are stopped, and the run ends `cancelled`.
    public func run(_ prepared: Prepared, onHost: (RunHost) async throws -> Void) async throws -> Run {
        let runId = prepared.run.id
        var status = RunStatus.succeeded
        var finished = 0
        do {
            for await outcome in executor.fanOut(prepared.jobs, concurrency: prepared.concurrency, options: options) {
                finished += 1
                let name = outcome.target.name
                let record = Self.record(outcome, runId: runId, address: prepared.addresses[name] ?? outcome.target.host, at: clock())
                try await store.recordHost(record, nodeId: prepared.nodeIds[name], seenAt: outcome.hostKey == nil ? nil : record.finishedAt)
                if record.outcome != HostOutcomeKind.ok.rawValue { status = .failed }
                do {
                    try await onHost(Self.api(record))
                } catch {
                    status = .cancelled
                    break
                }
            }
        } catch {
            try? await store.finishRun(id: runId, status: RunStatus.failed.rawValue, at: clock())
            throw error
        }
        // The stream also ends early when the calling task is cancelled (its client went away).
        if finished < prepared.jobs.count { status = .cancelled }
        try await store.finishRun(id: runId, status: status.rawValue, at: clock())
        return try await detail(runId).run
    }

    // MARK: History

    public func detail(_ id: Int64) async throws -> RunDetail {
        guard let (run, hosts) = try await store.run(id: id) else { throw DomainError.notFound("no run \(id)") }
        let outcomes = try await store.runOutcomeCounts(ids: [id])[id] ?? [:]
        return RunDetail(run: Self.api(run, outcomes: outcomes), hosts: Self.withinBudget(hosts.map(Self.api)))
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

    public func runs(cluster: String?, kind: String?, paging: Paging) async throws -> Page<Run> {
        // Newest first: the cursor is the smallest id seen.
        let records = try await store.runs(cluster: cluster, kind: kind, before: paging.after, limit: paging.limit)
        let outcomes = try await store.runOutcomeCounts(ids: records.map { $0.id! })
        let items = records.map { Self.api($0, outcomes: outcomes[$0.id!] ?? [:]) }
        return Page(items: items, nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    // MARK: Host keys

    /// Connects to each node, takes the key it shows and pins it (only if it equals `expect`,
    /// when given). Without names: every node of the cluster that has no pinned key.
    public func trust(cluster clusterName: String, _ request: TrustRequest) async throws -> [TrustResult] {
        let cluster = try await store.requireCluster(named: clusterName).cluster
        if let expect = request.expect { _ = try HostKey.fingerprint(expect, field: "expect") }
        let all = try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node)
        let nodes: [NodeRecord]
        if let names = request.nodes, !names.isEmpty {
            // A name given twice is one node (results and pins are per node).
            nodes = try names.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.map { name in
                guard let node = all.first(where: { $0.name == name }) else { throw DomainError.notFound("no node named \(name) in cluster \(cluster.name)") }
                return node
            }
        } else {
            nodes = all.filter { $0.hostKey == nil }
        }
        let targets = SSHTargets(store: store, passphrase: passphrase)
        var jobs: [SSHJob] = []
        for node in nodes {
            jobs.append(SSHJob(target: try await targets.target(cluster: cluster, node: node, hostKey: .trustOnFirstUse), commands: []))
        }
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) })
        var results: [TrustResult] = []
        for await outcome in executor.fanOut(jobs, options: options) {
            let node = byName[outcome.target.name]!
            var result = TrustResult(node: node.name, hostKey: outcome.hostKey, pinned: false, previous: node.hostKey, error: nil)
            // Pinned only after a full login: a host that shows a key but refuses us is not trusted.
            if case .failure(let error) = outcome.result {
                result.error = error.description + (outcome.hostKey == nil ? "" : "; not pinned")
            } else if let key = outcome.hostKey {
                if let expect = request.expect, expect != key {
                    result.error = "shows \(key), not the expected \(expect); not pinned"
                } else if let previous = node.hostKey, previous != key, request.expect == nil {
                    result.error = "shows \(key), not its pinned \(previous): its key changed. Check the new key out of band, then run "
                        + "`caulk nodes trust \(cluster.name) \(node.name) --expect \(key)`; not pinned"
                } else {
                    try await store.pinHostKey(nodeId: node.id!, fingerprint: key, at: clock())
                    result.pinned = true
                }
            }
            results.append(result)
        }
        return results.sorted { $0.node < $1.node }
    }

    // MARK: Mapping

    private func selectNodes(cluster: ClusterRecord, request: ExecRequest) async throws -> [NodeRecord] {
        let filter = NodeFilter(clusterId: cluster.id, role: request.role?.rawValue, labels: try Validate.selectors(request.labels ?? [], field: "labels"))
        let nodes = try Self.only(request.nodes, of: try await store.nodes(filter, limit: Int.max).map(\.node), cluster: cluster.name)
        guard !nodes.isEmpty else { throw DomainError.invalid(field: "nodes", message: "no node of cluster \(cluster.name) matches") }
        return nodes
    }

    /// The nodes named (all when none are), each of which must be among `nodes`.
    static func only(_ names: [String]?, of nodes: [NodeRecord], cluster: String) throws(DomainError) -> [NodeRecord] {
        guard let names, !names.isEmpty else { return nodes }
        let known = Set(nodes.map(\.name))
        if let missing = names.first(where: { !known.contains($0) }) {
            throw .invalid(field: "nodes", message: "no node \(missing) in cluster \(cluster) matches")
        }
        return nodes.filter { names.contains($0.name) }
    }

    static func record(_ outcome: HostOutcome, runId: Int64, address: String, at date: Date) -> RunHostRecord {
        // Output was already cut to `storedOutputCap` and flagged by the engine (see init).
        let ms = milliseconds(outcome.duration)
        switch outcome.result {
        case .success(let results):
            let result = results.first
            let kind: HostOutcomeKind = result.map { $0.timedOut ? .timedOut : $0.succeeded ? .ok : .failed } ?? .ok
            return RunHostRecord(
                runId: runId, nodeName: outcome.target.name, address: address, outcome: kind.rawValue,
                exitStatus: result?.exitStatus.map(Int.init), exitSignal: result?.exitSignal, stdout: text(result?.stdout ?? []),
                stderr: text(result?.stderr ?? []), stdoutTruncated: result?.stdoutTruncated ?? false,
                stderrTruncated: result?.stderrTruncated ?? false,
                errorKind: kind == .timedOut ? "timeout" : nil, error: kind == .timedOut ? "timed out; the channel was closed" : nil,
                hostKey: outcome.hostKey, durationMs: ms, finishedAt: date)
        case .failure(let error):
            return RunHostRecord(
                runId: runId, nodeName: outcome.target.name, address: address, outcome: HostOutcomeKind.error.rawValue,
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

    static func api(_ record: RunRecord, outcomes: [String: Int]) -> Run {
        Run(
            id: record.id!, kind: record.kind, cluster: record.clusterName, status: RunStatus(rawValue: record.status) ?? .failed,
            trigger: record.trigger, requester: record.requester, command: record.command, parameters: record.parameters,
            hostCount: record.hostCount, outcomes: outcomes, startedAt: record.startedAt, finishedAt: record.finishedAt,
            playbook: record.playbook, dryRun: record.dryRun ? true : nil)
    }

    static func api(_ record: RunHostRecord) -> RunHost {
        RunHost(
            node: record.nodeName, address: record.address, outcome: HostOutcomeKind(rawValue: record.outcome) ?? .error,
            exitStatus: record.exitStatus, exitSignal: record.exitSignal, stdout: record.stdout, stderr: record.stderr,
            stdoutTruncated: record.stdoutTruncated, stderrTruncated: record.stderrTruncated, errorKind: record.errorKind,
            error: record.error, durationMs: record.durationMs)
    }
}
