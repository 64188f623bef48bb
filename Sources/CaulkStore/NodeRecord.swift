import CaulkAPI
import Foundation
import GRDB

/// A row of `nodes`: what the inventory declares of a node. `labels` is a JSON object of strings.
/// What caulk observes of it is a `NodeObservation`, kept apart.
public struct NodeRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "nodes"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var clusterId: Int64
    public var name: String
    public var address: String
    public var role: NodeRole
    public var labels: [String: String]
    public var sshUser: String?
    public var sshPort: Int?
    public var sshKey: String?
    public var bastion: String?
    /// Overrides the cluster's `sshBecome`.
    public var sshBecome: String?
    public var hostKey: String?
    public var createdAt: Date
    public var updatedAt: Date

    public enum Columns {
        public static let id = Column("id")
        public static let clusterId = Column("cluster_id")
        public static let name = Column("name")
        public static let role = Column("role")
    }

    public init(
        id: Int64? = nil, clusterId: Int64, name: String, address: String, role: NodeRole, labels: [String: String],
        sshUser: String?, sshPort: Int?, sshKey: String?, bastion: String?, sshBecome: String? = nil, hostKey: String?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.clusterId = clusterId
        self.name = name
        self.address = address
        self.role = role
        self.labels = labels
        self.sshUser = sshUser
        self.sshPort = sshPort
        self.sshKey = sshKey
        self.bastion = bastion
        self.sshBecome = sshBecome
        self.hostKey = hostKey
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// True when everything an inventory sets is equal; ids and timestamps are not compared.
    public func hasSameContent(as other: NodeRecord) -> Bool {
        var other = other
        other.id = id
        other.clusterId = clusterId
        other.createdAt = createdAt
        other.updatedAt = updatedAt
        return self == other
    }
}

/// A row of `node_observations`: what caulk last saw of a node (none before it first answers).
public struct NodeObservation: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "node_observations"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var nodeId: Int64
    /// The boot the node last reported.
    public var lastBootId: String?
    /// When the boot `lastBootId` names began (from the node's uptime).
    public var lastBootedAt: Date?
    /// When it last answered over SSH.
    public var lastSeenAt: Date?

    public init(nodeId: Int64, lastBootId: String? = nil, lastBootedAt: Date? = nil, lastSeenAt: Date? = nil) {
        self.nodeId = nodeId
        self.lastBootId = lastBootId
        self.lastBootedAt = lastBootedAt
        self.lastSeenAt = lastSeenAt
    }
}

/// A node row with its cluster's name and what caulk observed of it.
public struct NodeRow: Sendable, Equatable {
    public var node: NodeRecord
    public var clusterName: String
    public var observed: NodeObservation?

    public init(node: NodeRecord, clusterName: String, observed: NodeObservation? = nil) {
        self.node = node
        self.clusterName = clusterName
        self.observed = observed
    }
}

/// What a node list is narrowed to. Empty fields match everything.
public struct NodeFilter: Sendable, Equatable {
    public var clusterId: Int64?
    /// Only nodes of these clusters (by name); nil: any cluster.
    public var within: [String]?
    public var role: NodeRole?
    /// Every pair must be present in the node's labels.
    public var labels: [(key: String, value: String)]

    public init(clusterId: Int64? = nil, role: NodeRole? = nil, labels: [(key: String, value: String)] = []) {
        self.clusterId = clusterId
        self.role = role
        self.labels = labels
    }

    public static func == (lhs: NodeFilter, rhs: NodeFilter) -> Bool {
        lhs.clusterId == rhs.clusterId && lhs.within == rhs.within && lhs.role == rhs.role
            && lhs.labels.map { "\($0.key)=\($0.value)" } == rhs.labels.map { "\($0.key)=\($0.value)" }
    }
}
