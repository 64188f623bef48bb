import CaulkAPI
import CaulkStore
import Crypto
import Foundation

/// What a webhook is sent for an event: the body in its format, and the headers that say what it
/// is and sign it.
public struct WebhookMessage: Sendable, Equatable {
    public var url: String
    public var headers: [String: String]
    public var body: [UInt8]

    /// `at`: when it is sent (the signed timestamp).
    init(_ event: NotificationEvent, delivery: Int64, to webhook: WebhookRecord, at date: Date) {
        url = webhook.url
        body = Self.body(event, format: WebhookFormat(rawValue: webhook.format) ?? .caulk)
        let timestamp = String(Int(date.timeIntervalSince1970))
        headers = [
            "Content-Type": "application/json",
            "User-Agent": "caulk",
            "X-Caulk-Event": event.event.rawValue,
            "X-Caulk-Delivery": String(delivery),
            "X-Caulk-Timestamp": timestamp,
            "X-Caulk-Signature": "sha256=" + Self.signature(secret: webhook.secret, timestamp: timestamp, body: body),
        ]
    }

    /// HMAC-SHA256 of `TIMESTAMP.BODY` under the webhook's secret, in hex.
    static func signature(secret: String, timestamp: String, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data((timestamp + ".").utf8))
        hmac.update(data: body)
        return hmac.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func body(_ event: NotificationEvent, format: WebhookFormat) -> [UInt8] {
        switch format {
        case .caulk:
            return Array(HostRecords.json(event).utf8)
        case .slack:
            return Array(plainJSON(["text": "\(icon(event)) caulk: \(event.summary)"]).utf8)
        case .alertmanager:
            return Array(plainJSON(alerts(event)).utf8)
        }
    }

    /// JSON with the keys as given (Slack's and Alertmanager's are not snake_case).
    private static func plainJSON(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    enum Severity: String { case critical, warning, info }

    static func severity(_ state: ClusterState) -> Severity {
        switch state {
        case .healthy: .info
        case .degraded, .unknown: .warning
        case .broken, .unreachable: .critical
        }
    }

    static func severity(_ event: NotificationEvent) -> Severity {
        switch event.event {
        case .auditStateChanged: severity(event.state ?? .unknown)
        case .repairFinished: event.status == .succeeded ? .info : .warning
        case .autoRepair: event.decision == .failed ? .critical : event.decision == .repaired ? .info : .warning
        case .reboot, .test: .info
        }
    }

    private static func icon(_ event: NotificationEvent) -> String {
        if event.event == .auditStateChanged, event.state == .healthy { return ":large_green_circle:" }
        switch severity(event) {
        case .critical: return ":red_circle:"
        case .warning: return ":large_yellow_circle:"
        case .info: return ":information_source:"
        }
    }

    /// An alert as Alertmanager's `POST /api/v2/alerts` takes it.
    struct Alert: Encodable, Equatable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String
    }

    /// How long an unhealthy cluster's alert lasts unless a later audit resolves it sooner.
    static let unhealthyFor: TimeInterval = 7 * 86_400
    /// How long the alert of a one-off event (a repair, a reboot) lasts.
    static let eventFor: TimeInterval = 3600

    /// A cluster found unhealthy fires `CaulkClusterUnhealthy` for its state (until a later
    /// audit finds another state, or for 7 days); the state before it, if unhealthy, is resolved.
    /// Every other event fires an alert of its own for an hour.
    static func alerts(_ event: NotificationEvent) -> [Alert] {
        let at = event.at
        var annotations = ["summary": event.summary]
        if let run = event.run { annotations["run"] = String(run) }
        func alert(_ name: String, _ labels: [String: String], severity: Severity, until end: Date) -> Alert {
            var labels = labels.filter { !$0.value.isEmpty }
            (labels["alertname"], labels["severity"], labels["source"]) = (name, severity.rawValue, "caulk")
            if let cluster = event.cluster { labels["cluster"] = cluster }
            return Alert(labels: labels, annotations: annotations, startsAt: rfc3339(at), endsAt: rfc3339(end))
        }
        switch event.event {
        case .auditStateChanged:
            var alerts: [Alert] = []
            if let previous = event.previousState, previous != .healthy, previous != event.state {
                // Resolved: its end is now (its start is only a hint to Alertmanager).
                alerts.append(alert("CaulkClusterUnhealthy", ["state": previous.rawValue], severity: severity(previous), until: at))
            }
            if let state = event.state, state != .healthy {
                alerts.append(alert("CaulkClusterUnhealthy", ["state": state.rawValue], severity: severity(state), until: at + unhealthyFor))
            }
            return alerts
        case .repairFinished:
            return [alert("CaulkRepairFinished", ["status": event.status?.rawValue ?? "", "run": event.run.map(String.init) ?? ""], severity: severity(event), until: at + eventFor)]
        case .autoRepair:
            return [alert("CaulkAutoRepair", ["decision": event.decision?.rawValue ?? ""], severity: severity(event), until: at + eventFor)]
        case .reboot:
            return [alert("CaulkNodeRebooted", ["node": event.node ?? "", "source": event.source ?? ""], severity: .info, until: at + eventFor)]
        case .test:
            return [alert("CaulkTest", [:], severity: .info, until: at + 300)]
        }
    }

    private static func rfc3339(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
