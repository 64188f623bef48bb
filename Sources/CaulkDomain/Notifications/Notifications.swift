import CaulkAPI
import CaulkStore
import Foundation
import Logging

/// Tells webhooks what happened. An event is queued in the database, one delivery per webhook
/// that takes its kind and cluster, right after what it tells of was recorded; the server's
/// `NotificationCourier` sends it. Queuing never fails what it tells of: an error is logged.
public struct Notifications: Sendable {
    let store: Store
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(store: Store, logger: Logger = Logger(label: "caulk"), clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.logger = logger
        self.clock = clock
    }

    /// A run just recorded as ended: an audit that ran to its end and found its cluster in
    /// another state than the audit before it, or a repair that was not a dry run.
    func runEnded(_ run: RunRecord) async {
        do {
            switch run.kind {
            case .audit where run.status == .succeeded:
                guard let state = Self.state(run.summary) else { return }
                let previous = try await store.previousAuditSummary(cluster: run.clusterName, before: run.id!).flatMap(Self.state)
                // A first audit that finds the cluster healthy is no news.
                guard state != previous, previous != nil || state != .healthy else { return }
                let counts = try await store.findingCounts(runId: run.id!)
                let (critical, warnings) = (counts["critical"] ?? 0, counts["warning"] ?? 0)
                var event = NotificationEvent(
                    event: .auditStateChanged, at: run.finishedAt ?? clock(), cluster: run.clusterName,
                    summary: "cluster \(run.clusterName) is \(state.rawValue) (\(previous.map { "was \($0.rawValue)" } ?? "its first audit")): audit run \(run.id!) found \(critical) critical finding(s) and \(warnings) warning(s)")
                (event.run, event.state, event.previousState, event.critical, event.warnings) = (run.id, state, previous, critical, warnings)
                (event.trigger, event.requester) = (run.trigger, run.requester)
                await send(event)
            case .repair where !run.dryRun:
                let summary = try? JSONCoding.decoder().decode(Outcome.self, from: Data(run.summary.utf8))
                let why = summary?.message ?? run.error ?? (run.status == .interrupted ? Store.interruptedReason : "")
                var event = NotificationEvent(
                    event: .repairFinished, at: run.finishedAt ?? clock(), cluster: run.clusterName,
                    summary: "repair run \(run.id!) of \(run.clusterName) \(run.status.rawValue)\(why.isEmpty ? "" : ": \(why)")")
                (event.run, event.status, event.state, event.trigger, event.requester) = (run.id, run.status, summary?.state, run.trigger, run.requester)
                await send(event)
            default:
                return
            }
        } catch {
            logger.error("run \(run.id!): could not queue its notification: \(error)")
        }
    }

    /// A node's boot seen for the first time.
    func reboot(_ reboot: RebootEventRecord) async {
        let by = reboot.source == "beacon" ? "its boot beacon" : "an audit"
        var event = NotificationEvent(
            event: .reboot, at: reboot.seenAt, cluster: reboot.clusterName,
            summary: "node \(reboot.nodeName) of \(reboot.clusterName) rebooted\(reboot.bootedAt.map { " at \(JSONCoding.formatDate($0))" } ?? ""), seen by \(by)")
        (event.node, event.bootId, event.bootedAt, event.source, event.run) = (reboot.nodeName, reboot.newBootId, reboot.bootedAt, reboot.source, reboot.runId)
        await send(event)
    }

    /// What the auto-repair policy decided.
    func autoRepair(cluster: String, _ decision: AutoRepairOutcome, _ reason: String, audit: Int64?, repair: Int64?) async {
        var event = NotificationEvent(event: .autoRepair, at: clock(), cluster: cluster, summary: "auto-repair of \(cluster): \(decision.rawValue): \(reason)")
        (event.decision, event.auditRun, event.repairRun) = (decision, audit, repair)
        await send(event)
    }

    private func send(_ event: NotificationEvent) async {
        do {
            try await store.enqueueNotification(Self.record(event))
        } catch {
            logger.error("could not queue the \(event.event.rawValue) notification of \(event.cluster ?? "caulk"): \(error)")
        }
    }

    /// An event as the queue keeps it.
    public static func record(_ event: NotificationEvent) -> NotificationEventRecord {
        NotificationEventRecord(kind: event.event.rawValue, cluster: event.cluster, summary: event.summary, body: HostRecords.json(event), createdAt: event.at)
    }

    /// The state a run's summary names, reading nothing else of it.
    static func state(_ summary: String) -> ClusterState? {
        (try? JSONCoding.decoder().decode(Outcome.self, from: Data(summary.utf8)))?.state
    }

    /// What an audit's or repair's summary says of how it ended.
    private struct Outcome: Decodable {
        var state: ClusterState?
        var message: String?
    }
}
