import CaulkAPI
import CaulkStore
import Foundation

/// Recurring audits. The service checks for due schedules every second; a schedule that fell
/// due several times while the service was down runs once, then keeps to its cron.
public struct ScheduleService: Sendable {
    let store: Store
    let audits: AuditService
    let clock: @Sendable () -> Date

    public init(store: Store, audits: AuditService, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.audits = audits
        self.clock = clock
    }

    public func add(_ request: ScheduleCreate, requester: String) async throws -> Schedule {
        _ = try Validate.name(request.name, field: "name")
        let cron = try Self.cron(request.cron)
        let playbook = try audits.library.playbook(request.playbook ?? AuditService.defaultPlaybook, kind: .audit)
        var clusterId: Int64?
        switch (request.cluster, request.all ?? false) {
        case (let name?, false): clusterId = try await store.requireCluster(named: name).cluster.id
        case (nil, true): clusterId = nil
        default: throw DomainError.invalid(field: "cluster", message: "give a cluster, or all: true (not both)")
        }
        let now = clock()
        guard let next = cron.next(after: now) else { throw DomainError.invalid(field: "cron", message: "'\(request.cron)' never fires") }
        let record = ScheduleRecord(name: request.name, cron: request.cron, clusterId: clusterId, playbook: playbook.name, nextRunAt: next, createdBy: requester, createdAt: now)
        let entry = activity.entry(
            requester, .scheduleCreate, cluster: request.cluster, target: request.name,
            after: ["cron": request.cron, "cluster": request.cluster ?? "all", "playbook": playbook.name])
        do {
            return try await api(store.insert(record) { _ in entry })
        } catch where Store.isConstraintViolation(error) {
            throw DomainError.conflict("a schedule named \(request.name) already exists; remove it first (`caulk schedules rm \(request.name)`)")
        }
    }

    var activity: ActivityLog { ActivityLog(store: store, clock: clock) }

    /// `within`: only schedules of these clusters; a fleet-wide one reaches others, so it is left out.
    public func list(within: [String]? = nil) async throws -> [Schedule] {
        var schedules: [Schedule] = []
        for record in try await store.schedules() {
            let schedule = try await api(record)
            if let within, !(schedule.cluster.map(within.contains) ?? false) { continue }
            schedules.append(schedule)
        }
        return schedules
    }

    /// The cluster a schedule audits; nil for a fleet-wide one.
    public func cluster(ofSchedule name: String) async throws -> String? {
        guard let record = try await store.schedule(named: name) else { throw DomainError.notFound("no schedule named \(name)") }
        return try await api(record).cluster
    }

    public func remove(name: String, by actor: String) async throws -> Schedule {
        guard let record = try await store.schedule(named: name) else { throw DomainError.notFound("no schedule named \(name)") }
        let schedule = try await api(record)
        _ = try await store.deleteSchedule(id: record.id!, activity: activity.entry(
            actor, .scheduleDelete, cluster: schedule.cluster, target: name,
            before: ["cron": schedule.cron, "cluster": schedule.cluster ?? "all", "playbook": schedule.playbook, "paused": String(schedule.paused)]))
        return schedule
    }

    /// Pauses or resumes. A resumed schedule next fires at its next slot from now, not at the
    /// slots it missed while paused.
    public func update(name: String, _ update: ScheduleUpdate, by actor: String) async throws -> Schedule {
        guard var record = try await store.schedule(named: name) else { throw DomainError.notFound("no schedule named \(name)") }
        if let paused = update.paused, paused != record.paused {
            record.paused = paused
            if !paused, let next = try Self.cron(record.cron).next(after: clock()) { record.nextRunAt = next }
            record.updatedAt = clock()
            var cluster: String?
            if let clusterId = record.clusterId { cluster = try await store.clusterName(id: clusterId) }
            try await store.update(record, activity: activity.entry(
                actor, .scheduleUpdate, cluster: cluster, target: name, before: ["paused": String(!paused)], after: ["paused": String(paused)]))
        }
        return try await api(record)
    }

    /// Starts the audits of every due schedule; returns how many runs it started.
    @discardableResult
    public func runDue(log: @Sendable (String) -> Void) async throws -> Int {
        let now = clock()
        var started = 0
        for var schedule in try await store.dueSchedules(at: now) {
            // Next slot from now: missed slots collapse into this one run.
            schedule.nextRunAt = (try? Self.cron(schedule.cron).next(after: now)) ?? now.addingTimeInterval(365 * 86_400)
            schedule.lastRunAt = now
            try await store.update(schedule)
            var request = AuditRequest(playbook: schedule.playbook)
            if let clusterId = schedule.clusterId, let cluster = try await store.clusterName(id: clusterId) {
                request.clusters = [cluster]
            } else {
                request.all = true
            }
            do {
                let result = try await audits.start(request, requester: "schedule:\(schedule.name)", trigger: .schedule)
                started += result.runs.count
                for skipped in result.skipped { log("schedule \(schedule.name): \(skipped); skipped this time") }
            } catch {
                log("schedule \(schedule.name) could not start: \(error)")
            }
        }
        return started
    }

    /// Checks every second until the task is cancelled.
    public func run(log: @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do {
                try await runDue(log: log)
            } catch {
                log("scheduler: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    static func cron(_ text: String) throws(DomainError) -> CronExpression {
        do {
            return try CronExpression(text)
        } catch {
            throw .invalid(field: "cron", message: error.message)
        }
    }

    private func api(_ record: ScheduleRecord) async throws -> Schedule {
        var cluster: String?
        if let clusterId = record.clusterId { cluster = try await store.clusterName(id: clusterId) }
        return Schedule(
            name: record.name, cron: record.cron, cluster: cluster, playbook: record.playbook, paused: record.paused, nextRunAt: record.nextRunAt,
            lastRunAt: record.lastRunAt, createdBy: record.createdBy)
    }
}
