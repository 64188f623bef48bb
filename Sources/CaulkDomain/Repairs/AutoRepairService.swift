import CaulkAPI
import CaulkStore
import Foundation

/// The per-cluster auto-repair policy (off by default). A reboot of a cluster whose policy is on
/// is queued by the store in the same transaction that records it; once its delay has passed the
/// cluster is audited, and when the findings are repairable `calico-recover` runs, at most
/// `max_per_hour` times per cluster per hour, disrupting at most `max_disrupted_share` of the
/// nodes at once. Every decision is recorded, with why.
public struct AutoRepairService: Sendable {
    let store: Store
    let audits: AuditService
    let repairs: RepairService
    let clock: @Sendable () -> Date
    let background: BackgroundRuns

    public static let requester = "auto-repair"
    static let defaults = (delaySeconds: 120, maxPerHour: 2, maxDisruptedShare: 0.25)

    public init(
        store: Store, audits: AuditService, repairs: RepairService, background: BackgroundRuns = BackgroundRuns(),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.background = background
        self.audits = audits
        self.repairs = repairs
        self.clock = clock
    }

    public func policy(cluster name: String) async throws -> AutoRepairPolicy {
        let cluster = try await store.requireCluster(named: name).cluster
        return AutoRepairPolicy(try await store.autoRepairPolicy(clusterId: cluster.id!), cluster: cluster.name)
    }

    public func update(cluster name: String, _ update: AutoRepairPolicyUpdate, by requester: String) async throws -> AutoRepairPolicy {
        let cluster = try await store.requireCluster(named: name).cluster
        let stored = try await store.autoRepairPolicy(clusterId: cluster.id!)
        var policy = stored ?? AutoRepairPolicyRecord(
            clusterId: cluster.id!, enabled: false, delaySeconds: Self.defaults.delaySeconds, maxPerHour: Self.defaults.maxPerHour,
            maxDisruptedShare: Self.defaults.maxDisruptedShare, updatedBy: requester, updatedAt: clock())
        if let enabled = update.enabled { policy.enabled = enabled }
        if let delay = update.delaySeconds {
            guard (0...86_400).contains(delay) else { throw DomainError.invalid(field: "delay_seconds", message: "must be 0–86400 seconds") }
            policy.delaySeconds = delay
        }
        if let count = update.maxPerHour {
            guard (1...60).contains(count) else { throw DomainError.invalid(field: "max_per_hour", message: "must be 1–60") }
            policy.maxPerHour = count
        }
        if let share = update.maxDisruptedShare {
            guard share > 0, share <= 1 else { throw DomainError.invalid(field: "max_disrupted_share", message: "must be more than 0 and at most 1 (a share of the nodes)") }
            policy.maxDisruptedShare = share
        }
        policy.updatedBy = requester
        policy.updatedAt = clock()
        let unshown: Set<String> = ["updated_by", "updated_at", "cluster"]
        let updated = AutoRepairPolicy(policy, cluster: cluster.name)
        try await store.saveAutoRepairPolicy(policy, activity: ActivityLog(store: store, clock: clock).change(
            requester, .autoRepairUpdate, cluster: cluster.name, target: cluster.name,
            from: stored.map { ActivityLog.fields(AutoRepairPolicy($0, cluster: cluster.name), leaving: unshown) } ?? [:],
            to: ActivityLog.fields(updated, leaving: unshown)))
        return updated
    }

    public func decisions(cluster: String?, within: [String]? = nil, paging: Paging) async throws -> Page<AutoRepairDecision> {
        if let cluster { _ = try await store.requireCluster(named: cluster) }
        let records = try await store.autoRepairDecisions(cluster: cluster, within: within, before: paging.after, limit: paging.limit)
        return Page(items: records.map(AutoRepairDecision.init), nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    /// Checks for due decisions every second until cancelled, each acted on in the background.
    public func run(log: @escaping @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do {
                try await startDue(log: log)
            } catch {
                log("auto-repair: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
        await background.cancelAll()
    }

    /// Starts every due decision; returns how many.
    @discardableResult
    public func startDue(log: @escaping @Sendable (String) -> Void) async throws -> Int {
        var started = 0
        for decision in try await store.dueAutoRepairs(at: clock()) where try await store.claimAutoRepair(id: decision.id!) {
            started += 1
            let service = self
            background.add { await service.act(on: decision, log: log) }
        }
        return started
    }

    /// Waits for every decision being acted on (tests).
    public func waitForAll() async {
        await background.waitForAll()
    }

    private func act(on decision: AutoRepairDecisionRecord, log: @Sendable (String) -> Void) async {
        let id = decision.id!
        func decide(_ outcome: AutoRepairOutcome, _ reason: String, audit: Int64? = nil, repair: Int64? = nil) async {
            log("auto-repair of \(decision.clusterName): \(outcome.rawValue): \(reason)")
            do {
                try await store.decideAutoRepair(id: id, decision: outcome, reason: reason, auditRunId: audit, repairRunId: repair, at: clock())
                repairs.runs.metrics.autoRepairDecision(outcome)
                await repairs.runs.notifications.autoRepair(cluster: decision.clusterName, outcome, reason, audit: audit, repair: repair)
            } catch {
                log("auto-repair: could not record decision \(id): \(error)")
            }
        }
        do {
            guard let found = try await store.cluster(named: decision.clusterName)?.cluster,
                let policy = try await store.autoRepairPolicy(clusterId: found.id!), policy.enabled
            else { return await decide(.skipped, "auto-repair is off for \(decision.clusterName) (turned off after the reboot)") }
            let recent = try await store.autoRepairCount(cluster: found.name, since: clock().addingTimeInterval(-3600))
            guard recent < policy.maxPerHour else {
                return await decide(.skipped, "\(recent) auto-repair(s) of \(found.name) in the last hour already (max_per_hour \(policy.maxPerHour)); a person should look")
            }
            let audit = try await audits.auditNow(cluster: found.name, playbook: AuditService.defaultPlaybook, requester: Self.requester, trigger: .auto)
            let auditId = audit.run.id!
            if audit.result.state == .healthy {
                return await decide(.skipped, "the cluster is healthy after the reboot", audit: auditId)
            }
            let plan = try await repairs.plan(RepairService.defaultPlaybook, cluster: found, audit: audit.result)
            if plan.isEmpty {
                let checks = Set(audit.result.findings.filter { $0.severity != .info }.map(\.check)).sorted()
                return await decide(
                    .skipped, "the cluster is \(audit.result.state.rawValue), but nothing found is repairable (\(checks.joined(separator: ", "))); a person should look",
                    audit: auditId)
            }
            let nodeCount = try await store.nodes(NodeFilter(clusterId: found.id), limit: Int.max).count
            let batch = max(1, Int((Double(nodeCount) * policy.maxDisruptedShare).rounded(.down)))
            let (runId, status) = try await repairs.runNow(
                RepairRequest(batch: plan.disruptive ? batch : nil), cluster: found.name, requester: Self.requester, trigger: .auto, before: audit)
            let summary = try await repairs.result(runId: runId).message ?? ""
            await decide(status == .succeeded ? .repaired : .failed, summary, audit: auditId, repair: runId)
        } catch DomainError.conflict(let message) {
            await decide(.skipped, "\(message); not started again")
        } catch {
            await decide(.failed, "\(error)")
        }
    }
}
