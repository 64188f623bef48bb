import CaulkAPI
import CaulkStore
import Foundation

/// Webhooks (`caulk notify`): added per cluster or for the whole fleet, each taking some kinds
/// of event in one format; and the history of what was sent to them.
public struct NotificationService: Sendable {
    let store: Store
    let activity: ActivityLog
    let clock: @Sendable () -> Date

    public init(store: Store, activity: ActivityLog, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.activity = activity
        self.clock = clock
    }

    public func add(_ input: WebhookInput, by actor: String) async throws -> CreatedWebhook {
        _ = try Validate.name(input.name, field: "name")
        let url = try Self.url(input.url)
        var clusterId: Int64?
        if let cluster = input.cluster { clusterId = try await store.requireCluster(named: try Validate.name(cluster, field: "cluster")).cluster.id }
        guard !input.on.isEmpty, !input.on.contains(.test) else {
            throw DomainError.invalid(
                field: "on", message: "name the events to send: \(NotificationKind.subscribable.map(\.rawValue).joined(separator: ", ")) (a test is sent on request to any webhook)")
        }
        let on = NotificationKind.allCases.filter(input.on.contains)
        let secret = try input.secret.map(Self.secret) ?? Self.newSecret()
        let format = input.format ?? .caulk
        let record = WebhookRecord(
            name: input.name, url: url, clusterId: clusterId, events: on.map(\.rawValue), format: format.rawValue, secret: secret, createdBy: actor,
            createdAt: clock())
        let entry = activity.entry(
            actor, .webhookCreate, cluster: input.cluster, target: input.name,
            after: ["url": NotificationCourier.origin(url), "cluster": input.cluster ?? "all", "on": on.map(\.rawValue).joined(separator: ","), "format": format.rawValue])
        do {
            let inserted = try await store.insert(record) { _ in entry }
            return CreatedWebhook(webhook: Self.api(WebhookRow(webhook: inserted, cluster: input.cluster)), secret: secret)
        } catch where Store.isConstraintViolation(error) {
            throw DomainError.conflict("a webhook named \(input.name) already exists; remove it first (`caulk notify remove \(input.name)`)")
        }
    }

    public func list() async throws -> [Webhook] {
        try await store.webhooks().map(Self.api)
    }

    public func show(_ name: String) async throws -> Webhook {
        Self.api(try await require(name))
    }

    /// Removes it; what was still to be sent to it fails, its history stays.
    public func remove(_ name: String, by actor: String) async throws -> Webhook {
        let row = try await require(name)
        let webhook = Self.api(row)
        _ = try await store.deleteWebhook(id: row.webhook.id!, at: clock(), activity: activity.entry(
            actor, .webhookDelete, cluster: row.cluster, target: name,
            before: ["url": NotificationCourier.origin(webhook.url), "cluster": row.cluster ?? "all", "on": row.webhook.events, "format": row.webhook.format]))
        return webhook
    }

    /// Queues a `test` event for this webhook alone; returns its delivery, to follow.
    public func test(_ name: String, by actor: String) async throws -> Delivery {
        let row = try await require(name)
        let event = NotificationEvent(event: .test, at: clock(), cluster: nil, summary: "a test of webhook \(name), sent by \(actor)")
        let delivery = try await store.enqueueNotification(Notifications.record(event), to: row.webhook)
        return try await self.delivery(delivery.id!)
    }

    /// The delivery history, newest first.
    public func log(webhook: String?, status: DeliveryStatus?, event: NotificationKind?, cluster: String?, paging: Paging) async throws -> Page<Delivery> {
        let filter = DeliveryFilter(webhook: webhook, status: status?.rawValue, kind: event?.rawValue, cluster: cluster)
        let rows = try await store.deliveries(filter, before: paging.after, limit: paging.limit)
        return Page(items: rows.map(Self.api), nextCursor: paging.nextCursor(lastId: rows.last?.delivery.id, count: rows.count))
    }

    public func delivery(_ id: Int64) async throws -> Delivery {
        guard let row = try await store.delivery(id: id) else { throw DomainError.notFound("no delivery \(id)") }
        return Self.api(row)
    }

    private func require(_ name: String) async throws -> WebhookRow {
        guard let row = try await store.webhook(named: name) else {
            throw DomainError.notFound("no webhook named \(name); `caulk notify list` shows them")
        }
        return row
    }

    // MARK: Validation

    /// `http(s)://HOST[:PORT][/PATH][?QUERY]` in URL characters, at most 2048: no user, no
    /// fragment. config/openapi.yaml has the same pattern (OpenAPITests checks it). A host that
    /// does not resolve or a port out of range fails its deliveries, saying so.
    public static let urlPattern = "^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9.-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?(?:[/?][A-Za-z0-9._~:/?@!$&'()*+,;=%\\[\\]-]*)?$"

    static func url(_ value: String) throws(DomainError) -> String {
        guard value.utf8.count <= 2048, (try? Regex(urlPattern).wholeMatch(in: value)) != nil else {
            throw .invalid(
                field: "url", message: "\(Validate.quoted(String(value.prefix(100)))) is not an http:// or https:// URL with a host, like https://hooks.example.com/caulk")
        }
        return value
    }

    static func secret(_ value: String) throws(DomainError) -> String {
        guard (16...256).contains(value.utf8.count), value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) else {
            throw .invalid(field: "secret", message: "must be 16–256 printable ASCII characters without spaces (or leave it out and caulk makes one)")
        }
        return value
    }

    /// 256 random bits, in hex.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    static func api(_ row: WebhookRow) -> Webhook {
        Webhook(
            name: row.webhook.name, url: row.webhook.url, cluster: row.cluster, on: row.webhook.eventList.compactMap(NotificationKind.init),
            format: WebhookFormat(rawValue: row.webhook.format) ?? .caulk, createdBy: row.webhook.createdBy, createdAt: row.webhook.createdAt)
    }

    static func api(_ row: DeliveryRow) -> Delivery {
        let delivery = row.delivery
        return Delivery(
            id: delivery.id!, webhook: delivery.webhookName, eventId: delivery.eventId, event: NotificationKind(rawValue: row.kind) ?? .test,
            cluster: row.cluster, summary: row.summary, status: DeliveryStatus(rawValue: delivery.status) ?? .pending, attempts: delivery.attempts,
            nextAttemptAt: delivery.nextAttemptAt, lastStatusCode: delivery.lastStatusCode, lastError: delivery.lastError, createdAt: delivery.createdAt,
            finishedAt: delivery.finishedAt)
    }
}
