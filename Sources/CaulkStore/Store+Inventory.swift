import Foundation
import GRDB

extension Store {
    /// Inserts a row and returns it with its new id; `activity`, made of the inserted row, is
    /// written in the same transaction.
    public func insert<Record: MutablePersistableRecord & Sendable>(
        _ record: Record, activity: (@Sendable (Record) -> ActivityRecord?)? = nil
    ) async throws -> Record {
        try await writer.write { db in
            var record = record
            try record.insert(db)
            try Self.record(activity?(record), in: db)
            return record
        }
    }

    /// Writes every column of an existing row, and `activity` with it.
    public func update<Record: MutablePersistableRecord & Sendable>(_ record: Record, activity: ActivityRecord? = nil) async throws {
        try await writer.write { db in
            try record.update(db)
            try Self.record(activity, in: db)
        }
    }

    // MARK: Clusters

    /// Clusters ordered by id, after the cursor id, with their node counts; only those named
    /// `within`, when given.
    public func clusters(encapsulation: String? = nil, within: [String]? = nil, after: Int64? = nil, limit: Int) async throws -> [ClusterRow] {
        try await writer.read { db in
            var request = ClusterRecord.order(ClusterRecord.Columns.id).limit(limit)
            if let within { request = request.filter(within.contains(ClusterRecord.Columns.name)) }
            if let after { request = request.filter(ClusterRecord.Columns.id > after) }
            if let encapsulation { request = request.filter(ClusterRecord.Columns.encapsulation == encapsulation) }
            return try request.fetchAll(db).map { try ClusterRow(cluster: $0, nodeCount: Self.nodeCount(db, clusterId: $0.id!)) }
        }
    }

    public func cluster(named name: String) async throws -> ClusterRow? {
        try await writer.read { db in
            guard let cluster = try ClusterRecord.filter(ClusterRecord.Columns.name == name).fetchOne(db) else { return nil }
            return ClusterRow(cluster: cluster, nodeCount: try Self.nodeCount(db, clusterId: cluster.id!))
        }
    }

    public enum DeleteOutcome: Sendable, Equatable {
        case deleted
        case notFound
        /// Not deleted: the cluster still has nodes and `cascade` was not asked for.
        case hasNodes(Int)
    }

    /// Deletes a cluster; its nodes go with it only when `cascade` is true.
    public func deleteCluster(named name: String, cascade: Bool, activity: ActivityRecord? = nil) async throws -> DeleteOutcome {
        try await writer.write { db in
            guard let cluster = try ClusterRecord.filter(ClusterRecord.Columns.name == name).fetchOne(db) else { return .notFound }
            let count = try Self.nodeCount(db, clusterId: cluster.id!)
            if count > 0 && !cascade { return .hasNodes(count) }
            try cluster.delete(db)
            try Self.record(activity, in: db)
            return .deleted
        }
    }

    static func nodeCount(_ db: Database, clusterId: Int64) throws -> Int {
        try NodeRecord.filter(NodeRecord.Columns.clusterId == clusterId).fetchCount(db)
    }

    // MARK: Nodes

    /// Nodes ordered by id, after the cursor id, narrowed by the filter.
    public func nodes(_ filter: NodeFilter = NodeFilter(), after: Int64? = nil, limit: Int) async throws -> [NodeRow] {
        try await writer.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let after {
                conditions.append("nodes.id > ?")
                arguments += [after]
            }
            if let clusterId = filter.clusterId {
                conditions.append("nodes.cluster_id = ?")
                arguments += [clusterId]
            }
            if let within = filter.within {
                conditions.append("clusters.name IN (\(databaseQuestionMarks(count: within.count)))")
                arguments += StatementArguments(within)
            }
            if let role = filter.role {
                conditions.append("nodes.role = ?")
                arguments += [role]
            }
            for label in filter.labels {
                conditions.append("EXISTS (SELECT 1 FROM json_each(nodes.labels) WHERE json_each.key = ? AND json_each.value = ?)")
                arguments += [label.key, label.value]
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let sql = """
                SELECT nodes.*, clusters.name AS cluster_name, \(Self.observationColumns) FROM nodes
                JOIN clusters ON clusters.id = nodes.cluster_id
                LEFT JOIN node_observations ON node_observations.node_id = nodes.id
                \(whereClause) ORDER BY nodes.id LIMIT \(limit)
                """
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { try Self.nodeRow($0, clusterName: $0["cluster_name"]) }
        }
    }

    /// The first node whose address or name is `host` (bastions are looked up this way).
    public func node(matchingHost host: String) async throws -> NodeRecord? {
        try await writer.read { db in
            try NodeRecord.fetchOne(db, sql: "SELECT * FROM nodes WHERE address = ? OR name = ? ORDER BY id LIMIT 1", arguments: [host, host])
        }
    }

    public func node(cluster: String, name: String) async throws -> NodeRow? {
        try await writer.read { db in
            let sql = """
                SELECT nodes.*, \(Self.observationColumns) FROM nodes JOIN clusters ON clusters.id = nodes.cluster_id
                LEFT JOIN node_observations ON node_observations.node_id = nodes.id
                WHERE clusters.name = ? AND nodes.name = ?
                """
            return try Row.fetchOne(db, sql: sql, arguments: [cluster, name]).map { try Self.nodeRow($0, clusterName: cluster) }
        }
    }

    /// The observation's columns under names of their own, beside `nodes.*`.
    static let observationColumns =
        "node_observations.node_id AS observed_node_id, node_observations.last_boot_id AS observed_last_boot_id, "
        + "node_observations.last_booted_at AS observed_last_booted_at, node_observations.last_seen_at AS observed_last_seen_at"

    static func nodeRow(_ row: Row, clusterName: String) throws -> NodeRow {
        let observed: NodeObservation? = (row["observed_node_id"] as Int64?).map {
            NodeObservation(
                nodeId: $0, lastBootId: row["observed_last_boot_id"], lastBootedAt: row["observed_last_booted_at"],
                lastSeenAt: row["observed_last_seen_at"])
        }
        return NodeRow(node: try NodeRecord(row: row), clusterName: clusterName, observed: observed)
    }

    /// Returns false when there was no such node.
    public func deleteNode(id: Int64, activity: ActivityRecord? = nil) async throws -> Bool {
        try await writer.write { db in
            guard try NodeRecord.deleteOne(db, key: id) else { return false }
            try Self.record(activity, in: db)
            return true
        }
    }
}
