import CaulkAPI
import Foundation
import GRDB

/// A row of `audit_nodes`: one node's state in one audit, written when its checks are done.
public struct AuditNodeRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "audit_nodes"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var nodeId: Int64?
    public var nodeName: String
    public var health: NodeHealth
    public var bootId: String?
    public var bootedAt: Date?
    public var kernel: String?
    public var nicDriver: String?
    /// The cluster's Calico version and encapsulation when the node was audited.
    public var calicoVersion: String?
    public var encapsulation: Encapsulation?
    /// `ID VERSION_ID` of the node's /etc/os-release, such as `rhel 9.4`.
    public var os: String?
    /// A JSON object of what the checks read.
    public var facts: String
    public var error: String?
    public var finishedAt: Date

    public enum Columns {
        public static let runId = Column("run_id")
        public static let nodeName = Column("node_name")
        public static let health = Column("health")
    }

    public init(
        runId: Int64, nodeId: Int64?, nodeName: String, health: NodeHealth, bootId: String?, bootedAt: Date?, kernel: String?,
        nicDriver: String?, calicoVersion: String? = nil, encapsulation: Encapsulation? = nil, os: String? = nil, facts: String, error: String?,
        finishedAt: Date
    ) {
        self.os = os
        self.calicoVersion = calicoVersion
        self.encapsulation = encapsulation
        self.runId = runId
        self.nodeId = nodeId
        self.nodeName = nodeName
        self.health = health
        self.bootId = bootId
        self.bootedAt = bootedAt
        self.kernel = kernel
        self.nicDriver = nicDriver
        self.facts = facts
        self.error = error
        self.finishedAt = finishedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `findings`: one thing an audit found, with the output that proves it.
public struct FindingRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "findings"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var clusterName: String
    /// nil: about the cluster as a whole.
    public var nodeName: String?
    public var checkId: String
    public var severity: Severity
    public var message: String
    public var evidence: String
    public var repair: String?
    public var createdAt: Date

    public enum Columns {
        public static let runId = Column("run_id")
        public static let nodeName = Column("node_name")
    }

    public init(
        runId: Int64, clusterName: String, nodeName: String?, checkId: String, severity: Severity, message: String,
        evidence: String, repair: String?, createdAt: Date
    ) {
        self.runId = runId
        self.clusterName = clusterName
        self.nodeName = nodeName
        self.checkId = checkId
        self.severity = severity
        self.message = message
        self.evidence = evidence
        self.repair = repair
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `reboot_events`: one boot of one node, however it was first seen.
public struct RebootEventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "reboot_events"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var nodeId: Int64?
    public var clusterName: String
    public var nodeName: String
    public var oldBootId: String?
    public var newBootId: String
    public var bootedAt: Date?
    public var seenAt: Date
    public var source: String
    public var runId: Int64?

    public enum Columns {
        public static let id = Column("id")
        public static let clusterName = Column("cluster_name")
        public static let nodeName = Column("node_name")
        public static let seenAt = Column("seen_at")
    }

    public init(
        nodeId: Int64?, clusterName: String, nodeName: String, oldBootId: String?, newBootId: String, bootedAt: Date?,
        seenAt: Date, source: String, runId: Int64?
    ) {
        self.nodeId = nodeId
        self.clusterName = clusterName
        self.nodeName = nodeName
        self.oldBootId = oldBootId
        self.newBootId = newBootId
        self.bootedAt = bootedAt
        self.seenAt = seenAt
        self.source = source
        self.runId = runId
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `schedules`: a recurring audit.
public struct ScheduleRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "schedules"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var name: String
    public var cron: String
    /// nil: every cluster.
    public var clusterId: Int64?
    public var playbook: String
    public var paused: Bool
    public var nextRunAt: Date
    public var lastRunAt: Date?
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public enum Columns {
        public static let id = Column("id")
        public static let name = Column("name")
        public static let paused = Column("paused")
        public static let nextRunAt = Column("next_run_at")
    }

    public init(
        name: String, cron: String, clusterId: Int64?, playbook: String, paused: Bool = false, nextRunAt: Date,
        createdBy: String, createdAt: Date
    ) {
        self.name = name
        self.cron = cron
        self.clusterId = clusterId
        self.playbook = playbook
        self.paused = paused
        self.nextRunAt = nextRunAt
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
