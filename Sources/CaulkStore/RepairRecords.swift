import CaulkAPI
import Foundation
import GRDB

/// A row of `repair_nodes`: one node in a repair's plan, updated as the node finishes.
public struct RepairNodeRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "repair_nodes"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var nodeId: Int64?
    public var nodeName: String
    /// Rollout order.
    public var position: Int
    /// Check ids that called for a repair.
    public var findings: [String]
    public var repairs: [String]
    public var outcome: RepairNodeOutcome
    public var reason: String?
    public var startedAt: Date?
    public var finishedAt: Date?

    public enum Columns {
        public static let runId = Column("run_id")
        public static let position = Column("position")
    }

    public init(
        runId: Int64, nodeId: Int64?, nodeName: String, position: Int, findings: [String], repairs: [String], outcome: RepairNodeOutcome, reason: String?
    ) {
        self.runId = runId
        self.nodeId = nodeId
        self.nodeName = nodeName
        self.position = position
        self.findings = findings
        self.repairs = repairs
        self.outcome = outcome
        self.reason = reason
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `repair_steps`: one step on one host, or one planned step of a dry run.
public struct RepairStepRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "repair_steps"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    /// nil: cluster-wide.
    public var nodeName: String?
    public var host: String
    public var repair: String
    public var step: String
    public var command: String
    public var outcome: RepairStepOutcome
    public var exitStatus: Int?
    public var stdout: String
    public var stderr: String
    public var startedAt: Date
    public var durationMs: Int

    public enum Columns {
        public static let runId = Column("run_id")
    }

    public init(
        runId: Int64, nodeName: String?, host: String, repair: String, step: String, command: String, outcome: RepairStepOutcome, exitStatus: Int?,
        stdout: String, stderr: String, startedAt: Date, durationMs: Int
    ) {
        self.runId = runId
        self.nodeName = nodeName
        self.host = host
        self.repair = repair
        self.step = step
        self.command = command
        self.outcome = outcome
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
        self.startedAt = startedAt
        self.durationMs = durationMs
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `auto_repair_policies`: whether and how a cluster repairs itself after a reboot.
public struct AutoRepairPolicyRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "auto_repair_policies"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var clusterId: Int64
    public var enabled: Bool
    public var delaySeconds: Int
    public var maxPerHour: Int
    public var maxDisruptedShare: Double
    public var updatedBy: String
    public var updatedAt: Date

    public init(clusterId: Int64, enabled: Bool, delaySeconds: Int, maxPerHour: Int, maxDisruptedShare: Double, updatedBy: String, updatedAt: Date) {
        self.clusterId = clusterId
        self.enabled = enabled
        self.delaySeconds = delaySeconds
        self.maxPerHour = maxPerHour
        self.maxDisruptedShare = maxDisruptedShare
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// A row of `auto_repair_decisions`: what the policy did (or will do) after a cluster's reboots.
public struct AutoRepairDecisionRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "auto_repair_decisions"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var clusterId: Int64?
    public var clusterName: String
    public var rebootEventId: Int64?
    public var nodeName: String?
    /// Reboots this decision covers (later ones join a pending decision).
    public var reboots: Int
    public var dueAt: Date
    public var decision: AutoRepairOutcome
    public var reason: String?
    public var auditRunId: Int64?
    public var repairRunId: Int64?
    public var createdAt: Date
    public var decidedAt: Date?

    public enum Columns {
        public static let id = Column("id")
        public static let clusterName = Column("cluster_name")
        public static let decision = Column("decision")
        public static let dueAt = Column("due_at")
    }

    public init(clusterId: Int64?, clusterName: String, rebootEventId: Int64?, nodeName: String?, dueAt: Date, createdAt: Date) {
        self.clusterId = clusterId
        self.clusterName = clusterName
        self.rebootEventId = rebootEventId
        self.nodeName = nodeName
        self.reboots = 1
        self.dueAt = dueAt
        self.decision = .pending
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
