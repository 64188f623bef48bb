import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// On-demand repair of a whole cluster: started on request (or by the auto-repair policy), run in
/// the background, one at a time per cluster (a dry run takes no lock), recorded step by step.
public struct RepairService: Sendable {
    let store: Store
    let runs: RunHistory
    let executor: SSHExecutor
    let audits: AuditService
    let library: PlaybookLibrary
    let options: SSHOptions
    let passphrase: Secret?
    let clock: @Sendable () -> Date
    let background: BackgroundRuns

    public static let defaultPlaybook = "calico-recover"
    /// Nodes at once when no chosen repair disrupts traffic.
    static let gentleBatch = 8

    public init(
        store: Store, executor: SSHExecutor, audits: AuditService, library: PlaybookLibrary, options: SSHOptions = SSHOptions(),
        passphrase: Secret? = nil, runs: RunHistory? = nil, background: BackgroundRuns = BackgroundRuns(),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.background = background
        self.runs = runs ?? RunHistory(store: store, clock: clock)
        self.executor = executor
        self.audits = audits
        self.library = library
        self.options = ExecService.storing(options)
        self.passphrase = passphrase
        self.clock = clock
    }

    /// Checks the request, takes the cluster's repair lock and starts the repair in the background.
    public func start(_ request: RepairRequest, cluster: String, requester: String, trigger: RunTrigger) async throws -> Run {
        let prepared = try await prepare(request, cluster: cluster, requester: requester, trigger: trigger)
        let runner = runner
        // A failure is recorded with the run and logged by `runRecordingFailure`.
        background.add { _ = try? await runner.runRecordingFailure(prepared) }
        return Run(prepared.run, outcomes: [:])
    }

    /// Runs a repair to its end in the calling task (auto-repair), from an audit just made.
    func runNow(_ request: RepairRequest, cluster: String, requester: String, trigger: RunTrigger, before: RepairRunner.Audit) async throws -> (Int64, RunStatus) {
        let prepared = try await prepare(request, cluster: cluster, requester: requester, trigger: trigger)
        return (prepared.run.id!, try await runner.runRecordingFailure(prepared, before: before))
    }

    /// What `playbook` would do with this audit, without recording anything.
    func plan(_ playbookName: String, cluster: ClusterRecord, audit: AuditResult) async throws -> RepairPlan {
        let playbook = try library.playbook(playbookName, kind: .repair)
        let nodes = try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node)
        return RepairPlan.make(playbook, library: library, audit: audit, nodes: nodes, only: nil)
    }

    public func waitForAll() async {
        await background.waitForAll()
    }

    /// Stops every running repair between steps; each ends `cancelled`, its remaining nodes untouched.
    public func cancelAll() async {
        await background.cancelAll()
    }

    private var runner: RepairRunner {
        RepairRunner(store: store, runs: runs, executor: executor, audits: audits, library: library, options: options, clock: clock)
    }

    private func prepare(_ request: RepairRequest, cluster name: String, requester: String, trigger: RunTrigger) async throws -> PreparedRepair {
        let playbook = try library.playbook(request.playbook ?? Self.defaultPlaybook, kind: .repair)
        guard playbook.name != BeaconService.playbook else {
            throw DomainError.invalid(field: "playbook", message: "boot-beacon needs the caulk URL and a token per node: use `caulk beacon install CLUSTER --node-url URL`")
        }
        let dryRun = request.dryRun ?? false
        let candidates = RepairPlan.candidates(playbook, library: library)
        if !dryRun, request.confirm != true, let risky = ([playbook] + candidates).first(where: \.needsConfirmation) {
            throw DomainError.invalid(
                field: "confirm",
                message: "\(risky.name) changes the whole cluster and is hard to undo (\(risky.description)); see its commands with --dry-run, then repeat with --confirm")
        }
        let batch = request.batch
        if let batch, !(1...1024).contains(batch) { throw DomainError.invalid(field: "batch", message: "must be 1–1024 nodes") }
        let maxFailures = request.maxFailures ?? 1
        guard (1...1024).contains(maxFailures) else { throw DomainError.invalid(field: "max_failures", message: "must be 1–1024") }
        let verifyTimeout = request.verifyTimeout ?? 60
        guard (5...3600).contains(verifyTimeout) else { throw DomainError.invalid(field: "verify_timeout", message: "must be 5–3600 seconds") }
        var parameters = try AuditService.parameters(of: [playbook] + candidates, overrides: request.parameters ?? [:])

        let cluster = try await store.requireCluster(named: name).cluster
        let all = try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node)
        guard !all.isEmpty else { throw DomainError.invalid(field: "cluster", message: "cluster \(cluster.name) has no nodes") }
        let only = request.nodes.flatMap { $0.isEmpty ? nil : $0 }
        _ = try ExecService.only(only, of: all, cluster: cluster.name)
        let targets = try await SSHTargets(store: store, passphrase: passphrase).targets(cluster: cluster, nodes: all)

        // The run's parameters show how it was asked for, beside the playbooks' values.
        parameters["batch"] = batch.map(String.init) ?? "auto"
        parameters["max_failures"] = String(maxFailures)
        parameters["verify_timeout"] = String(verifyTimeout)
        if let only { parameters["nodes"] = only.joined(separator: ",") }
        let start = RunHistory.Start(
            kind: .repair, cluster: cluster, trigger: trigger, requester: requester, parameters: parameters, hostCount: 0, playbook: playbook.name)
        let record: RunRecord
        switch try await runs.startExclusive(start, dryRun: dryRun) {
        case .alreadyRunning(let running):
            throw DomainError.conflict(
                "cluster \(cluster.name) is already being repaired by run \(running.id!) (started by \(running.requester) at \(JSONCoding.formatDate(running.startedAt))); wait for it (`caulk runs show \(running.id!)`)")
        case .started(let run):
            record = run
        }
        return PreparedRepair(
            run: record, cluster: cluster, nodes: all, targets: targets, playbook: playbook, parameters: parameters, batch: batch,
            maxFailures: maxFailures, verifyTimeout: verifyTimeout, dryRun: dryRun, only: only)
    }

    // MARK: Results

    public func result(runId: Int64) async throws -> RepairResult {
        guard let run = try await store.runRecord(id: runId) else { throw DomainError.notFound("no run \(runId)") }
        return try await runs.repair(run)
    }
}
