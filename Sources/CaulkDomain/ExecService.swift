import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// Ad-hoc commands on a cluster's nodes, recorded as runs.
public struct ExecService: Sendable {
    let store: Store
    let runs: RunHistory
    let executor: SSHExecutor
    let options: SSHOptions
    let passphrase: Secret?
    let clock: @Sendable () -> Date

    /// Output kept in the history per stream and host; the SSH engine's own cap bounds memory.
    public static let storedOutputCap = 64 * 1024
    public static let maxCommandBytes = 64 * 1024

    public init(
        store: Store, executor: SSHExecutor, options: SSHOptions = SSHOptions(), passphrase: Secret? = nil, runs: RunHistory? = nil,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.runs = runs ?? RunHistory(store: store, clock: clock)
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
    public func prepare(_ request: ExecRequest, cluster clusterName: String, requester: String, trigger: RunTrigger) async throws -> Prepared {
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
        let record = try await runs.start(RunHistory.Start(
            kind: .exec, cluster: cluster, trigger: trigger, requester: requester, command: request.command, parameters: parameters,
            hostCount: jobs.count))
        return Prepared(
            run: Run(record, outcomes: [:]), jobs: jobs,
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
            for await outcome in executor.fanOut(prepared.jobs, concurrency: prepared.concurrency, options: options, run: runId) {
                finished += 1
                let name = outcome.target.name
                let record = HostRecords.record(outcome, runId: runId, address: prepared.addresses[name] ?? outcome.target.host, at: clock())
                try await store.recordHost(record, nodeId: prepared.nodeIds[name], seenAt: outcome.hostKey == nil ? nil : record.finishedAt)
                if record.outcome != .ok { status = .failed }
                do {
                    try await onHost(RunHost(record))
                } catch {
                    status = .cancelled
                    break
                }
            }
        } catch {
            await runs.fail(runId, error)
            throw error
        }
        // The stream also ends early when the calling task is cancelled (its client went away).
        if finished < prepared.jobs.count { status = .cancelled }
        try await runs.finish(runId, status)
        return try await runs.run(id: runId)
    }

    // MARK: Nodes

    private func selectNodes(cluster: ClusterRecord, request: ExecRequest) async throws -> [NodeRecord] {
        let filter = NodeFilter(clusterId: cluster.id, role: request.role, labels: try Validate.selectors(request.labels ?? [], field: "labels"))
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
}
