import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// Fleet audits: started on request or by a schedule, run in the background, one at a time per
/// cluster; their results, each cluster's latest health, and reboot events.
public struct AuditService: Sendable {
    let store: Store
    let runs: RunHistory
    let executor: SSHExecutor
    let options: SSHOptions
    let passphrase: Secret?
    let library: PlaybookLibrary
    let clock: @Sendable () -> Date
    let background: BackgroundRuns

    public static let defaultPlaybook = "calico-vxlan"

    public init(
        store: Store, executor: SSHExecutor, library: PlaybookLibrary, options: SSHOptions = SSHOptions(), passphrase: Secret? = nil,
        runs: RunHistory? = nil, background: BackgroundRuns = BackgroundRuns(), clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.background = background
        self.runs = runs ?? RunHistory(store: store, clock: clock)
        self.executor = executor
        self.library = library
        self.options = options
        self.passphrase = passphrase
        self.clock = clock
    }

    /// Starts an audit of each cluster named (or of every cluster) and returns at once. A named
    /// cluster already being audited is a conflict; with `all`, such clusters are skipped.
    /// `within`: what `all` means to a token limited to some clusters.
    public func start(_ request: AuditRequest, requester: String, trigger: RunTrigger, within: [String]? = nil) async throws -> AuditsStarted {
        let playbook = try library.playbook(request.playbook ?? Self.defaultPlaybook, kind: .audit)
        let parameters = try Self.parameters(playbook, overrides: request.parameters ?? [:])
        let concurrency = request.concurrency ?? 64
        guard (1...1024).contains(concurrency) else { throw DomainError.invalid(field: "concurrency", message: "must be 1–1024") }
        let names: [String]
        switch (request.all ?? false, request.clusters ?? []) {
        case (true, let named) where named.isEmpty:
            names = try await store.clusters(within: within, limit: Int.max).map(\.cluster.name)
        case (false, let named) where !named.isEmpty:
            names = named
        default:
            throw DomainError.invalid(field: "clusters", message: "name one or more clusters, or set all: true (not both)")
        }
        // Every cluster is resolved before any starts: one bad name starts nothing. With `all`, a
        // cluster that cannot be audited (no nodes, no key) is skipped with why; the rest run.
        var resolved: [(cluster: ClusterRecord, nodes: [NodeRecord], targets: [String: SSHTarget])] = []
        var skipped: [String] = []
        for name in names {
            do {
                resolved.append(try await resolve(cluster: name))
            } catch let error as DomainError where request.all == true {
                skipped.append("cluster \(name) was not audited: \(error.description)")
            }
        }
        var started: [Run] = []
        for audit in resolved {
            let start = RunHistory.Start(
                kind: .audit, cluster: audit.cluster, trigger: trigger, requester: requester, parameters: parameters,
                hostCount: audit.nodes.count, playbook: playbook.name)
            switch try await runs.startExclusive(start) {
            case .alreadyRunning(let running):
                let message = "cluster \(audit.cluster.name) is already being audited by run \(running.id!) (started by \(running.requester) at \(JSONCoding.formatDate(running.startedAt)))"
                if names.count == 1 { throw DomainError.conflict(message) }
                skipped.append(message)
            case .started(let run):
                launch(PreparedAudit(
                    run: run, cluster: audit.cluster, nodes: audit.nodes, targets: audit.targets, playbook: playbook, parameters: parameters,
                    concurrency: concurrency))
                started.append(Run(run, outcomes: [:]))
            }
        }
        return AuditsStarted(runs: started, skipped: skipped)
    }

    /// Audits one cluster now and waits for the result: a repair's audits before and after. An
    /// audit already running does not hold it back; the repair must see the cluster as it is now.
    /// `parameters`: overrides, where the playbook has such a parameter.
    /// `started`: called with the audit's run once it is recorded, before any node is touched
    /// (a repair links its audit at once, so a crash mid-audit still shows which audit it was).
    func auditNow(
        cluster name: String, playbook playbookName: String, requester: String, trigger: RunTrigger, parameters overrides: [String: String] = [:],
        started: @Sendable (RunRecord) async throws -> Void = { _ in }
    ) async throws -> (run: RunRecord, result: AuditResult) {
        let playbook = try library.playbook(playbookName, kind: .audit)
        let parameters = try Self.parameters(playbook, overrides: overrides.filter { name, _ in playbook.parameters.contains { $0.name == name } })
        let audit = try await resolve(cluster: name)
        let run = try await runs.start(RunHistory.Start(
            kind: .audit, cluster: audit.cluster, trigger: trigger, requester: requester, parameters: parameters,
            hostCount: audit.nodes.count, playbook: playbook.name))
        do {
            try await started(run)
            try await AuditRunner(store: store, executor: executor, options: options, runs: runs, clock: clock).run(PreparedAudit(
                run: run, cluster: audit.cluster, nodes: audit.nodes, targets: audit.targets, playbook: playbook, parameters: parameters, concurrency: 64))
        } catch {
            await runs.fail(run.id!, error)
            throw error
        }
        return (run, try await runs.audit(runId: run.id!))
    }

    /// Waits for every audit started so far (tests, shutdown).
    public func waitForAll() async {
        await background.waitForAll()
    }

    /// Stops every running audit; each ends `cancelled` with the nodes it finished.
    public func cancelAll() async {
        await background.cancelAll()
    }

    private func resolve(cluster name: String) async throws -> (cluster: ClusterRecord, nodes: [NodeRecord], targets: [String: SSHTarget]) {
        let cluster = try await store.requireCluster(named: name).cluster
        let nodes = try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node)
        guard !nodes.isEmpty else { throw DomainError.invalid(field: "clusters", message: "cluster \(cluster.name) has no nodes to audit") }
        return (cluster, nodes, try await SSHTargets(store: store, passphrase: passphrase).targets(cluster: cluster, nodes: nodes))
    }

    private func launch(_ audit: PreparedAudit) {
        let runner = AuditRunner(store: store, executor: executor, options: options, runs: runs, clock: clock)
        let runs = runs
        background.add {
            do {
                try await runner.run(audit)
            } catch {
                await runs.fail(audit.run.id!, error)
            }
        }
    }

    /// The playbook's defaults with the request's overrides; unknown names are refused.
    static func parameters(_ playbook: Playbook, overrides: [String: String]) throws(DomainError) -> [String: String] {
        try parameters(of: [playbook], overrides: overrides)
    }

    /// The defaults of every playbook given (the first declaration of a name wins) with the
    /// request's overrides; a name none of them declares is refused.
    static func parameters(of playbooks: [Playbook], overrides: [String: String]) throws(DomainError) -> [String: String] {
        var values: [String: String] = [:]
        for parameter in playbooks.flatMap(\.parameters) where values[parameter.name] == nil { values[parameter.name] = parameter.defaultValue }
        for (name, value) in overrides {
            guard values[name] != nil else {
                throw .invalid(
                    field: "parameters.\(name)",
                    message: "\(playbooks[0].name) has no such parameter; it has: \(values.keys.sorted().joined(separator: ", "))")
            }
            guard value.utf8.count <= 4096, !value.contains("\0") else { throw .invalid(field: "parameters.\(name)", message: "must be at most 4096 bytes, without NUL") }
            values[name] = value
        }
        return values
    }

    // MARK: Results

    /// An audit's nodes, findings and facts so far.
    public func result(runId: Int64) async throws -> AuditResult {
        try await runs.audit(runId: runId)
    }

    /// The cluster's state from its latest finished audit.
    public func health(cluster name: String) async throws -> ClusterHealth {
        let cluster = try await store.requireCluster(named: name).cluster
        guard let run = try await store.latestFinishedAudit(cluster: cluster.name) else {
            return ClusterHealth(cluster: cluster.name, state: .unknown, run: nil, result: nil)
        }
        let result = try await runs.audit(run)
        return ClusterHealth(cluster: cluster.name, state: result.state, run: try await runs.run(run), result: result)
    }
}
