import CoreMetrics
import Prometheus

/// swift-metrics into Prometheus' text format (`GET /metrics`), every family with its help text.
/// swift-prometheus's own factory gives none, and its registry stops the process when one name
/// is registered with two help texts, so every family is made here, from one table.
public final class PrometheusExport: MetricsFactory, Sendable {
    public let registry = PrometheusCollectorRegistry()

    public init() {}

    /// The families caulk records, and what each one says.
    static let help: [String: String] = [
        "caulk_runs_total": "Runs that ended, by kind and how they ended.",
        "caulk_run_duration_seconds": "How long runs took, by kind.",
        "caulk_repair_step_duration_seconds": "How long repair steps took, by outcome.",
        "caulk_ssh_operations_total": "SSH host operations (connect, commands, close), by budget.",
        "caulk_ssh_errors_total": "SSH host operations that failed, by budget and kind of error.",
        "caulk_ssh_slots": "SSH host operations a budget allows at once.",
        "caulk_ssh_slots_busy": "SSH host operations running now, by budget.",
        "caulk_ssh_connections_kept": "SSH connections kept open for the next operation on their node.",
        "caulk_reboots_total": "Node boots recorded, by who saw them first (audit or beacon).",
        "caulk_auto_repair_decisions_total": "What the auto-repair policy decided after reboots.",
        "caulk_webhook_deliveries_total": "Webhook delivery attempts by webhook and outcome (delivered, retried, failed).",
        "caulk_webhook_deliveries_pending": "Webhook deliveries still to be sent (or tried again), by webhook.",
        "caulk_cluster_state": "1 for the state each cluster's latest finished audit left it in, 0 for the others.",
        "caulk_cluster_nodes": "Nodes of each cluster by their verdict in its latest finished audit.",
        "caulk_cluster_findings": "Warning and critical findings of each cluster's latest finished audit.",
        "caulk_cluster_audit_age_seconds": "Seconds since each cluster's latest audit finished (never audited: 2147483647).",
        "caulk_runs_running": "Runs in flight, by cluster.",
        "caulk_clusters": "Clusters by the state their latest finished audit left them in.",
        "caulk_findings": "Warning and critical findings of every cluster's latest audit, by check and severity.",
    ]

    /// Runs take seconds to hours; steps up to their verify timeout.
    static let durationBuckets: [Duration] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200].map { .seconds($0) }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: Self.help[label] ?? label)
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: [1, 10, 100, 1000, 10000])
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: Self.durationBuckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Prometheus.ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Prometheus.DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
