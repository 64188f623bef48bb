import CaulkAPI
import CaulkStore
import CoreMetrics
import Foundation
import Synchronization

/// What caulk counts and times, through swift-metrics: the server gives it a Prometheus backend
/// (`GET /metrics`); without one (the default) nothing is kept. Events are recorded as they
/// happen; the fleet's state is read from the database when `refresh` is called (each scrape).
public struct CaulkMetrics: Sendable {
    let factory: any MetricsFactory
    /// The gauges the last `refresh` set: one it does not set again (a cluster deleted, a check
    /// no longer found) is removed rather than left at its old value.
    private let shown = Shown()

    private final class Shown: Sendable {
        let series = Mutex<[String: (label: String, dimensions: [(String, String)])]>([:])
    }

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    /// A run ended: counted by kind and how it ended, timed by kind.
    func runEnded(kind: RunKind, status: RunStatus, startedAt: Date, at end: Date) {
        Counter(label: "caulk_runs_total", dimensions: [("kind", kind.rawValue), ("status", status.rawValue)], factory: factory).increment()
        Timer(label: "caulk_run_duration_seconds", dimensions: [("kind", kind.rawValue)], factory: factory)
            .recordNanoseconds(Int64(max(0, end.timeIntervalSince(startedAt)) * 1e9))
    }

    /// A repair step ended.
    func repairStep(outcome: RepairStepOutcome, durationMs: Int) {
        Timer(label: "caulk_repair_step_duration_seconds", dimensions: [("outcome", outcome.rawValue)], factory: factory)
            .recordMilliseconds(durationMs)
    }

    /// A boot seen for the first time, from an audit or the node's beacon.
    func reboot(source: String) {
        Counter(label: "caulk_reboots_total", dimensions: [("source", source)], factory: factory).increment()
    }

    /// What the auto-repair policy decided about a cluster's reboots.
    func autoRepairDecision(_ decision: AutoRepairOutcome) {
        Counter(label: "caulk_auto_repair_decisions_total", dimensions: [("decision", decision.rawValue)], factory: factory).increment()
    }

    /// A webhook delivery's attempt ended: `delivered`, `retried` (to be tried again) or `failed`.
    func webhookDelivery(webhook: String, outcome: String) {
        Counter(label: "caulk_webhook_deliveries_total", dimensions: [("webhook", webhook), ("outcome", outcome)], factory: factory).increment()
    }

    /// The fleet as its latest finished audits left it, and the runs in flight: every cluster's
    /// state (1 for the one it is in), node verdicts, findings, and how old its audit is; the
    /// fleet's findings by check and severity; kept SSH connections; deliveries each webhook has
    /// still to be sent.
    public func refresh(store: Store, keptConnections: Int?, now: Date = Date()) async throws {
        let overview = try await store.fleetOverview()
        let findings = try await store.latestFindingCounts()
        var set: [String: (label: String, dimensions: [(String, String)])] = [:]
        func gauge(_ label: String, _ dimensions: [(String, String)]) -> Meter {
            set[label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()] = (label, dimensions)
            return Meter(label: label, dimensions: dimensions, factory: factory)
        }
        var clusters: [String: Int] = [:]
        for cluster in overview {
            let state = cluster.state?.rawValue ?? "unknown"
            clusters[state, default: 0] += 1
            for known in ClusterState.allCases.map(\.rawValue) {
                gauge("caulk_cluster_state", [("cluster", cluster.cluster), ("state", known)]).set(known == state ? 1 : 0)
            }
            for (health, count) in [("healthy", cluster.healthy), ("degraded", cluster.degraded), ("broken", cluster.broken), ("unreachable", cluster.unreachable)] {
                gauge("caulk_cluster_nodes", [("cluster", cluster.cluster), ("health", health)]).set(count)
            }
            for (severity, count) in [("critical", cluster.critical), ("warning", cluster.warnings)] {
                gauge("caulk_cluster_findings", [("cluster", cluster.cluster), ("severity", severity)]).set(count)
            }
            // Never audited: as old as can be, so an alert on stale audits fires for it too.
            let age = cluster.auditedAt.map { now.timeIntervalSince($0) } ?? Double(Int32.max)
            gauge("caulk_cluster_audit_age_seconds", [("cluster", cluster.cluster)]).set(age)
            gauge("caulk_runs_running", [("cluster", cluster.cluster)]).set(cluster.running)
        }
        for state in ClusterState.allCases.map(\.rawValue) {
            gauge("caulk_clusters", [("state", state)]).set(clusters[state] ?? 0)
        }
        for (check, severity, count) in findings {
            gauge("caulk_findings", [("check", check), ("severity", severity)]).set(count)
        }
        if let keptConnections { gauge("caulk_ssh_connections_kept", []).set(keptConnections) }
        let pending = try await store.pendingDeliveryCounts()
        for webhook in try await store.webhooks().map(\.webhook.name) {
            gauge("caulk_webhook_deliveries_pending", [("webhook", webhook)]).set(pending[webhook] ?? 0)
        }
        let gone = shown.series.withLock { shown in
            defer { shown = set }
            return shown.filter { set[$0.key] == nil }.map(\.value)
        }
        for series in gone { Meter(label: series.label, dimensions: series.dimensions, factory: factory).destroy() }
    }
}
