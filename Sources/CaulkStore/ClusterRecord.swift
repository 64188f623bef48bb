import CaulkAPI
import Foundation
import GRDB

/// A row of `clusters`.
public struct ClusterRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "clusters"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var name: String
    public var apiEndpoint: String
    public var podCidr: String?
    public var encapsulation: Encapsulation
    public var calicoNamespace: CalicoNamespace
    public var sshUser: String
    public var sshPort: Int
    public var sshKey: String?
    public var bastion: String?
    /// Run commands as this user through `sudo -n`; nil: as the login user.
    public var sshBecome: String?
    public var createdAt: Date
    public var updatedAt: Date

    public enum Columns {
        public static let id = Column("id")
        public static let name = Column("name")
        public static let encapsulation = Column("encapsulation")
    }

    public init(
        id: Int64? = nil, name: String, apiEndpoint: String, podCidr: String?, encapsulation: Encapsulation,
        calicoNamespace: CalicoNamespace, sshUser: String, sshPort: Int, sshKey: String?, bastion: String?, sshBecome: String? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.apiEndpoint = apiEndpoint
        self.podCidr = podCidr
        self.encapsulation = encapsulation
        self.calicoNamespace = calicoNamespace
        self.sshUser = sshUser
        self.sshPort = sshPort
        self.sshKey = sshKey
        self.bastion = bastion
        self.sshBecome = sshBecome
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// True when everything a user sets is equal; ids and timestamps are not compared.
    public func hasSameContent(as other: ClusterRecord) -> Bool {
        var other = other
        other.id = id
        other.createdAt = createdAt
        other.updatedAt = updatedAt
        return self == other
    }
}

/// A cluster row with the number of its nodes.
public struct ClusterRow: Sendable, Equatable {
    public var cluster: ClusterRecord
    public var nodeCount: Int

    public init(cluster: ClusterRecord, nodeCount: Int) {
        self.cluster = cluster
        self.nodeCount = nodeCount
    }
}
