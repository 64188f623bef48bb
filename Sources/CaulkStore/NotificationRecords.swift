import Foundation
import GRDB

/// A row of `webhooks`.
public struct WebhookRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "webhooks"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var name: String
    public var url: String
    /// nil: every cluster's events.
    public var clusterId: Int64?
    /// Event kinds, comma-separated.
    public var events: String
    public var format: String
    public var secret: String
    public var createdBy: String
    public var createdAt: Date

    public init(name: String, url: String, clusterId: Int64?, events: [String], format: String, secret: String, createdBy: String, createdAt: Date) {
        self.name = name
        self.url = url
        self.clusterId = clusterId
        self.events = events.joined(separator: ",")
        self.format = format
        self.secret = secret
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public var eventList: [String] { events.split(separator: ",").map(String.init) }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A webhook with the name of the cluster it is limited to.
public struct WebhookRow: Sendable, Equatable {
    public var webhook: WebhookRecord
    public var cluster: String?

    public init(webhook: WebhookRecord, cluster: String?) {
        self.webhook = webhook
        self.cluster = cluster
    }
}

/// A row of `notification_events`: `body` is the event as JSON, without its id.
public struct NotificationEventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notification_events"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var kind: String
    public var cluster: String?
    public var summary: String
    public var body: String
    public var createdAt: Date

    public init(kind: String, cluster: String?, summary: String, body: String, createdAt: Date) {
        self.kind = kind
        self.cluster = cluster
        self.summary = summary
        self.body = body
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `notification_deliveries`.
public struct DeliveryRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "notification_deliveries"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var eventId: Int64
    public var webhookId: Int64?
    public var webhookName: String
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var createdAt: Date
    public var finishedAt: Date?

    public init(eventId: Int64, webhookId: Int64, webhookName: String, at date: Date) {
        self.eventId = eventId
        self.webhookId = webhookId
        self.webhookName = webhookName
        status = "pending"
        attempts = 0
        nextAttemptAt = date
        createdAt = date
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A delivery with what its event was, as the history shows it.
public struct DeliveryRow: Sendable, Equatable {
    public var delivery: DeliveryRecord
    public var kind: String
    public var cluster: String?
    public var summary: String
}

/// A delivery due to be sent: its event's body and the webhook (nil once removed).
public struct DueDelivery: Sendable {
    public var delivery: DeliveryRecord
    public var event: NotificationEventRecord
    public var webhook: WebhookRecord?
}

/// Which deliveries to read, newest first.
public struct DeliveryFilter: Sendable {
    public var webhook: String?
    public var status: String?
    public var kind: String?
    public var cluster: String?

    public init(webhook: String? = nil, status: String? = nil, kind: String? = nil, cluster: String? = nil) {
        self.webhook = webhook
        self.status = status
        self.kind = kind
        self.cluster = cluster
    }
}
