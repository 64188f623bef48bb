import Foundation
import GRDB

/// A row of `activity`: one change, who made it and when. `before`/`after` are JSON objects
/// (field → value) of what changed, as the domain chose to show it.
public struct ActivityRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "activity"

    public var id: Int64?
    public var at: Date
    public var actor: String
    public var action: String
    public var cluster: String?
    public var target: String
    public var before: String?
    public var after: String?

    public enum Columns {
        public static let id = Column("id")
        public static let at = Column("at")
        public static let actor = Column("actor")
        public static let action = Column("action")
        public static let cluster = Column("cluster")
    }

    public init(
        id: Int64? = nil, at: Date, actor: String, action: String, cluster: String?, target: String, before: String? = nil, after: String? = nil
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.cluster = cluster
        self.target = target
        self.before = before
        self.after = after
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// Which activity to read, newest first.
public struct ActivityFilter: Sendable {
    public var since: Date?
    public var actor: String?
    public var cluster: String?
    /// An action (`token.create`) or every action on a kind of thing (`token`).
    public var action: String?

    public init(since: Date? = nil, actor: String? = nil, cluster: String? = nil, action: String? = nil) {
        self.since = since
        self.actor = actor
        self.cluster = cluster
        self.action = action
    }
}

extension Store {
    /// Activity newest first, before the cursor id.
    public func activity(_ filter: ActivityFilter, before: Int64?, limit: Int) async throws -> [ActivityRecord] {
        try await writer.read { db in
            var request = ActivityRecord.order(ActivityRecord.Columns.id.desc).limit(limit)
            if let before { request = request.filter(ActivityRecord.Columns.id < before) }
            if let since = filter.since { request = request.filter(ActivityRecord.Columns.at >= since) }
            if let actor = filter.actor { request = request.filter(ActivityRecord.Columns.actor == actor) }
            if let cluster = filter.cluster { request = request.filter(ActivityRecord.Columns.cluster == cluster) }
            if let action = filter.action {
                request = request.filter(ActivityRecord.Columns.action == action || ActivityRecord.Columns.action.like("\(action).%"))
            }
            return try request.fetchAll(db)
        }
    }

    /// Writes `activity`, if any, in the transaction `db` is in.
    static func record(_ activity: ActivityRecord?, in db: Database) throws {
        guard var activity else { return }
        try activity.insert(db)
    }
}
