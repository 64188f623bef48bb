import Foundation
import GRDB

extension Store {
    // MARK: Webhooks

    public func webhooks() async throws -> [WebhookRow] {
        try await writer.read { db in try Row.fetchAll(db, sql: "\(Self.webhookRows) ORDER BY w.name").map(Self.webhookRow) }
    }

    public func webhook(named name: String) async throws -> WebhookRow? {
        try await writer.read { db in try Row.fetchOne(db, sql: "\(Self.webhookRows) WHERE w.name = ?", arguments: [name]).map(Self.webhookRow) }
    }

    private static let webhookRows = "SELECT w.*, c.name AS cluster_name FROM webhooks w LEFT JOIN clusters c ON c.id = w.cluster_id"

    private static func webhookRow(_ row: Row) throws -> WebhookRow {
        WebhookRow(webhook: try WebhookRecord(row: row), cluster: row["cluster_name"])
    }

    /// Removes a webhook; what was still to be sent to it fails with why, the rest of its
    /// history stays under its name.
    public func deleteWebhook(id: Int64, at date: Date, activity: ActivityRecord? = nil) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE notification_deliveries SET status = 'failed', next_attempt_at = NULL, finished_at = ?,
                        last_error = 'the webhook was removed before this was delivered'
                    WHERE webhook_id = ? AND status = 'pending'
                    """,
                arguments: [date, id])
            guard try WebhookRecord.deleteOne(db, key: id) else { return false }
            try Self.record(activity, in: db)
            return true
        }
    }

    // MARK: Events

    /// Records an event for every webhook that takes its kind and cluster, one delivery each, in
    /// one transaction; nothing when none does. Returns the event's id, if recorded.
    @discardableResult
    public func enqueueNotification(_ event: NotificationEventRecord) async throws -> Int64? {
        try await writer.write { db in
            let webhooks = try WebhookRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM webhooks
                    WHERE ',' || events || ',' LIKE '%,' || ? || ',%'
                      AND (cluster_id IS NULL OR cluster_id = (SELECT id FROM clusters WHERE name = ?))
                    """,
                arguments: [event.kind, event.cluster])
            guard !webhooks.isEmpty else { return nil }
            return try Self.enqueue(event, to: webhooks, in: db)
        }
    }

    /// Records an event for one webhook whatever it takes (a test); returns the delivery.
    public func enqueueNotification(_ event: NotificationEventRecord, to webhook: WebhookRecord) async throws -> DeliveryRecord {
        try await writer.write { db in
            let id = try Self.enqueue(event, to: [webhook], in: db)
            return try DeliveryRecord.filter(Column("event_id") == id).fetchOne(db)!
        }
    }

    private static func enqueue(_ event: NotificationEventRecord, to webhooks: [WebhookRecord], in db: Database) throws -> Int64 {
        var event = event
        try event.insert(db)
        for webhook in webhooks {
            var delivery = DeliveryRecord(eventId: event.id!, webhookId: webhook.id!, webhookName: webhook.name, at: event.createdAt)
            try delivery.insert(db)
        }
        return event.id!
    }

    // MARK: Deliveries

    /// Pending deliveries whose time has come, oldest first, at most `perWebhook` of each
    /// webhook's (so one whose receiver is down cannot fill a batch) and none of the webhooks
    /// `except` names, with their events and webhooks.
    public func dueDeliveries(at date: Date, limit: Int, perWebhook: Int = .max, except: Set<String> = []) async throws -> [DueDelivery] {
        try await writer.read { db in
            let excluded = except.isEmpty ? "" : "AND webhook_name NOT IN (\(Array(repeating: "?", count: except.count).joined(separator: ",")))"
            let deliveries = try DeliveryRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM (
                        SELECT d.*, row_number() OVER (PARTITION BY webhook_name ORDER BY next_attempt_at, id) AS nth
                        FROM notification_deliveries d WHERE status = 'pending' AND next_attempt_at <= ? \(excluded))
                    WHERE nth <= ? ORDER BY next_attempt_at, id LIMIT ?
                    """,
                arguments: StatementArguments([date] + except.sorted().map { $0 as any DatabaseValueConvertible } + [perWebhook, limit]))
            return try deliveries.compactMap { delivery in
                guard let event = try NotificationEventRecord.fetchOne(db, key: delivery.eventId) else { return nil }
                let webhook = try delivery.webhookId.flatMap { try WebhookRecord.fetchOne(db, key: $0) }
                return DueDelivery(delivery: delivery, event: event, webhook: webhook)
            }
        }
    }

    /// Writes what an attempt left: its status, attempts, next attempt, answer and error; only
    /// while it is pending (a webhook removed during the attempt has failed it already).
    public func recordAttempt(_ delivery: DeliveryRecord) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE notification_deliveries
                    SET status = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?, finished_at = ?
                    WHERE id = ? AND status = 'pending'
                    """,
                arguments: [
                    delivery.status, delivery.attempts, delivery.nextAttemptAt, delivery.lastStatusCode, delivery.lastError, delivery.finishedAt,
                    delivery.id,
                ])
        }
    }

    public func deliveries(_ filter: DeliveryFilter, before: Int64?, limit: Int) async throws -> [DeliveryRow] {
        try await writer.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let before { clauses.append("d.id < ?"); arguments += [before] }
            if let webhook = filter.webhook { clauses.append("d.webhook_name = ?"); arguments += [webhook] }
            if let status = filter.status { clauses.append("d.status = ?"); arguments += [status] }
            if let kind = filter.kind { clauses.append("e.kind = ?"); arguments += [kind] }
            if let cluster = filter.cluster { clauses.append("e.cluster = ?"); arguments += [cluster] }
            arguments += [limit]
            let sql = "\(Self.deliveryRows) \(clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")) ORDER BY d.id DESC LIMIT ?"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.deliveryRow)
        }
    }

    public func delivery(id: Int64) async throws -> DeliveryRow? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "\(Self.deliveryRows) WHERE d.id = ?", arguments: [id]).map(Self.deliveryRow)
        }
    }

    private static let deliveryRows = """
        SELECT d.*, e.kind AS event_kind, e.cluster AS event_cluster, e.summary AS event_summary
        FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
        """

    private static func deliveryRow(_ row: Row) throws -> DeliveryRow {
        DeliveryRow(delivery: try DeliveryRecord(row: row), kind: row["event_kind"], cluster: row["event_cluster"], summary: row["event_summary"])
    }

    /// The state the last audit of `cluster` that ran to its end before run `runId` left in its
    /// summary (JSON), if there was one.
    public func previousAuditSummary(cluster: String, before runId: Int64) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(
                db,
                sql: "SELECT summary FROM runs WHERE cluster_name = ? AND id < ? AND kind = 'audit' AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                arguments: [cluster, runId])
        }
    }

    /// Deliveries still to be sent, by webhook name.
    public func pendingDeliveryCounts() async throws -> [String: Int] {
        try await writer.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT webhook_name, count(*) AS n FROM notification_deliveries WHERE status = 'pending' GROUP BY webhook_name") {
                counts[row["webhook_name"]] = row["n"]
            }
            return counts
        }
    }

    /// Run `runId`'s findings by severity.
    public func findingCounts(runId: Int64) async throws -> [String: Int] {
        try await writer.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT severity, count(*) AS n FROM findings WHERE run_id = ? GROUP BY severity", arguments: [runId]) {
                counts[row["severity"]] = row["n"]
            }
            return counts
        }
    }
}
