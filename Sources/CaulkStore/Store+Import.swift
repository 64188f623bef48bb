import Foundation
import GRDB

/// One cluster of an inventory file with its nodes, ready to write. Ids are ignored.
public struct InventoryCluster: Sendable {
    public var cluster: ClusterRecord
    public var nodes: [NodeRecord]

    public init(cluster: ClusterRecord, nodes: [NodeRecord]) {
        self.cluster = cluster
        self.nodes = nodes
    }
}

public struct UpsertCounts: Sendable, Equatable {
    public var created = 0
    public var updated = 0
    public var unchanged = 0

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }
}

extension Store {
    /// Creates or updates every cluster and node of an inventory in one transaction: all of it
    /// lands or none of it does. Rows not named in the inventory are left alone. A node given
    /// without a host key keeps the one already pinned. With `dryRun`, the counts are computed
    /// and the transaction rolled back.
    public func applyInventory(
        _ inventory: [InventoryCluster], dryRun: Bool, now: Date = Date(),
        activity: (@Sendable (_ clusters: UpsertCounts, _ nodes: UpsertCounts) -> ActivityRecord?)? = nil
    ) async throws -> (clusters: UpsertCounts, nodes: UpsertCounts) {
        try await writer.write { db in
            let savepoint = "caulk_import"
            try db.execute(sql: "SAVEPOINT \(savepoint)")
            do {
                let counts = try Self.upsert(inventory, in: db, now: now)
                if dryRun {
                    try db.execute(sql: "ROLLBACK TO SAVEPOINT \(savepoint)")
                } else {
                    try Self.record(activity?(counts.clusters, counts.nodes), in: db)
                }
                try db.execute(sql: "RELEASE SAVEPOINT \(savepoint)")
                return counts
            } catch {
                try? db.execute(sql: "ROLLBACK TO SAVEPOINT \(savepoint)")
                try? db.execute(sql: "RELEASE SAVEPOINT \(savepoint)")
                throw error
            }
        }
    }

    private static func upsert(_ inventory: [InventoryCluster], in db: Database, now: Date) throws
        -> (clusters: UpsertCounts, nodes: UpsertCounts)
    {
        var clusterCounts = UpsertCounts()
        var nodeCounts = UpsertCounts()
        for item in inventory {
            var cluster = item.cluster
            let clusterId: Int64
            if let existing = try ClusterRecord.filter(ClusterRecord.Columns.name == cluster.name).fetchOne(db) {
                clusterId = existing.id!
                if existing.hasSameContent(as: cluster) {
                    clusterCounts.unchanged += 1
                } else {
                    cluster.id = existing.id
                    cluster.createdAt = existing.createdAt
                    cluster.updatedAt = now
                    try cluster.update(db)
                    clusterCounts.updated += 1
                }
            } else {
                cluster.id = nil
                cluster.createdAt = now
                cluster.updatedAt = now
                try cluster.insert(db)
                clusterId = cluster.id!
                clusterCounts.created += 1
            }

            let existingNodes = try NodeRecord.filter(NodeRecord.Columns.clusterId == clusterId).fetchAll(db)
            let byName = Dictionary(uniqueKeysWithValues: existingNodes.map { ($0.name, $0) })
            for var node in item.nodes {
                node.clusterId = clusterId
                if let existing = byName[node.name] {
                    if node.hostKey == nil { node.hostKey = existing.hostKey }
                    if existing.hasSameContent(as: node) {
                        nodeCounts.unchanged += 1
                        continue
                    }
                    node.id = existing.id
                    node.createdAt = existing.createdAt
                    node.updatedAt = now
                    try node.update(db)
                    nodeCounts.updated += 1
                } else {
                    node.id = nil
                    node.createdAt = now
                    node.updatedAt = now
                    try node.insert(db)
                    nodeCounts.created += 1
                }
            }
        }
        return (clusterCounts, nodeCounts)
    }
}
