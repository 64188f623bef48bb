import CaulkAPI
import Foundation
import GRDB

/// A row of `tokens`. Only the SHA-256 of the secret is stored.
public struct TokenRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "tokens"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var name: String
    public var role: Role
    /// Set for `node` tokens: the one node whose boots this token may announce.
    public var nodeId: Int64?
    public var secretHash: String
    /// Granted the right to run any command on nodes; admins have it whatever this says.
    public var exec: Bool
    /// The only clusters it reaches, comma-separated; nil: every cluster.
    public var clusters: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public var mayExec: Bool { role == .admin || (role == .operator && exec) }

    /// The only clusters it reaches; nil: every cluster.
    public var clusterNames: [String]? { clusters.map { $0.split(separator: ",").map(String.init) } }

    /// Not revoked and not expired at `date`.
    public func works(at date: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > date } ?? true)
    }

    public enum Columns {
        public static let id = Column("id")
        public static let name = Column("name")
        public static let nodeId = Column("node_id")
        public static let secretHash = Column("secret_hash")
        public static let revokedAt = Column("revoked_at")
        public static let expiresAt = Column("expires_at")
        public static let lastUsedAt = Column("last_used_at")
    }

    public init(
        id: Int64? = nil, name: String, role: Role, nodeId: Int64? = nil, secretHash: String, exec: Bool = false, clusters: [String]? = nil, createdAt: Date,
        expiresAt: Date? = nil, lastUsedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.nodeId = nodeId
        self.secretHash = secretHash
        self.exec = exec
        self.clusters = clusters?.joined(separator: ",")
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
