import Foundation

/// What caulk tells webhooks about.
public enum NotificationKind: String, Codable, Sendable, CaseIterable {
    /// An audit that ran to its end found the cluster in another state than the audit before it.
    case auditStateChanged = "audit-state-changed"
    /// A repair (not a dry run) ended, however it ended.
    case repairFinished = "repair-finished"
    /// The auto-repair policy decided what to do about a cluster's reboot(s).
    case autoRepair = "auto-repair"
    /// A node's boot seen for the first time, by an audit or the node's beacon.
    case reboot
    /// Sent on request (`caulk notify test`), to every kind of webhook.
    case test

    /// What a webhook can be added to take (a test goes to any webhook on request).
    public static let subscribable = allCases.filter { $0 != .test }
}

/// The body a webhook is sent.
public enum WebhookFormat: String, Codable, Sendable, CaseIterable {
    /// The event as `NotificationEvent`.
    case caulk
    /// `{"text": …}`, as Slack's incoming webhooks (and Mattermost's, Rocket.Chat's) take it.
    case slack
    /// A list of alerts as Alertmanager's `POST /api/v2/alerts` takes it.
    case alertmanager
}

/// A webhook to add (`POST /v1/webhooks`).
public struct WebhookInput: Codable, Sendable {
    public var name: String
    public var url: String
    /// Only this cluster's events; absent: every cluster's.
    public var cluster: String?
    public var on: [NotificationKind]
    public var format: WebhookFormat?
    /// The HMAC key the body is signed with; absent: caulk makes one and shows it once.
    public var secret: String?

    public init(name: String, url: String, cluster: String? = nil, on: [NotificationKind], format: WebhookFormat? = nil, secret: String? = nil) {
        self.name = name
        self.url = url
        self.cluster = cluster
        self.on = on
        self.format = format
        self.secret = secret
    }
}

public struct Webhook: Codable, Sendable, Equatable {
    public var name: String
    public var url: String
    public var cluster: String?
    public var on: [NotificationKind]
    public var format: WebhookFormat
    public var createdBy: String
    public var createdAt: Date

    public init(name: String, url: String, cluster: String?, on: [NotificationKind], format: WebhookFormat, createdBy: String, createdAt: Date) {
        self.name = name
        self.url = url
        self.cluster = cluster
        self.on = on
        self.format = format
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// A webhook as added: the only time its signing secret is shown.
public struct CreatedWebhook: Codable, Sendable {
    public var webhook: Webhook
    public var secret: String

    public init(webhook: Webhook, secret: String) {
        self.webhook = webhook
        self.secret = secret
    }
}

/// What happened, as a `caulk`-format webhook receives it. Which fields are present depends on
/// `event`.
public struct NotificationEvent: Codable, Sendable, Equatable {
    /// The same for every webhook the event went to.
    public var id: Int64
    public var event: NotificationKind
    public var at: Date
    /// Absent for `test`.
    public var cluster: String?
    /// One sentence for people.
    public var summary: String
    /// The audit (audit-state-changed) or repair (repair-finished) run.
    public var run: Int64?
    /// audit-state-changed: the state now and before (absent: no audit before); repair-finished:
    /// the state the audit after the repair found.
    public var state: ClusterState?
    public var previousState: ClusterState?
    /// repair-finished: how the run ended, who or what started it.
    public var status: RunStatus?
    public var trigger: RunTrigger?
    public var requester: String?
    /// audit-state-changed: the findings by severity.
    public var critical: Int?
    public var warnings: Int?
    /// reboot.
    public var node: String?
    public var bootId: String?
    public var bootedAt: Date?
    /// reboot: `audit` or `beacon`.
    public var source: String?
    /// auto-repair.
    public var decision: AutoRepairOutcome?
    public var auditRun: Int64?
    public var repairRun: Int64?

    public init(id: Int64 = 0, event: NotificationKind, at: Date, cluster: String?, summary: String) {
        self.id = id
        self.event = event
        self.at = at
        self.cluster = cluster
        self.summary = summary
    }
}

public enum DeliveryStatus: String, Codable, Sendable, CaseIterable {
    /// Not sent yet, or to be tried again at `next_attempt_at`.
    case pending
    case delivered
    /// Given up: refused for good (a 4xx), out of attempts, or its webhook was removed.
    case failed
}

/// One event sent (or to be sent) to one webhook (`GET /v1/deliveries`, `caulk notify log`).
public struct Delivery: Codable, Sendable, Equatable {
    public var id: Int64
    public var webhook: String
    public var eventId: Int64
    public var event: NotificationKind
    public var cluster: String?
    public var summary: String
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    /// The HTTP status of the last attempt; absent when it got no answer.
    public var lastStatusCode: Int?
    public var lastError: String?
    public var createdAt: Date
    public var finishedAt: Date?

    public init(
        id: Int64, webhook: String, eventId: Int64, event: NotificationKind, cluster: String?, summary: String, status: DeliveryStatus,
        attempts: Int, nextAttemptAt: Date?, lastStatusCode: Int?, lastError: String?, createdAt: Date, finishedAt: Date?
    ) {
        self.id = id
        self.webhook = webhook
        self.eventId = eventId
        self.event = event
        self.cluster = cluster
        self.summary = summary
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}
