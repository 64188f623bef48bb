import CaulkAPI
import Foundation
import GRDB

/// A row of `runs`: one exec, audit or repair against a cluster.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "runs"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var kind: RunKind
    public var clusterId: Int64?
    public var clusterName: String
    public var status: RunStatus
    public var trigger: RunTrigger
    public var requester: String
    public var command: String?
    public var parameters: [String: String]
    public var hostCount: Int
    public var startedAt: Date
    public var finishedAt: Date?
    /// The playbook an audit or repair ran.
    public var playbook: String?
    /// A JSON object: what the run found about the cluster as a whole (facts, counts).
    public var summary: String = "{}"
    /// A repair's audits.
    public var auditBeforeId: Int64?
    public var auditAfterId: Int64?
    /// A repair that only planned: it showed its commands and changed nothing.
    public var dryRun = false
    /// Why the run failed as a whole (caulk could not go on), when it did.
    public var error: String?
    /// Who asked the run to stop, and when (`caulk runs cancel`).
    public var cancelledBy: String?
    public var cancelRequestedAt: Date?

    public enum Columns {
        public static let id = Column("id")
        public static let clusterName = Column("cluster_name")
        public static let kind = Column("kind")
        public static let status = Column("status")
    }

    public init(
        kind: RunKind, clusterId: Int64?, clusterName: String, trigger: RunTrigger, requester: String, command: String?,
        parameters: [String: String], hostCount: Int, startedAt: Date, playbook: String? = nil
    ) {
        self.kind = kind
        self.clusterId = clusterId
        self.clusterName = clusterName
        self.status = .running
        self.trigger = trigger
        self.requester = requester
        self.command = command
        self.parameters = parameters
        self.hostCount = hostCount
        self.startedAt = startedAt
        self.playbook = playbook
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A row of `run_hosts`: what one host did in a run, written as soon as that host finished.
public struct RunHostRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "run_hosts"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var nodeName: String
    public var address: String
    public var outcome: HostOutcomeKind
    public var exitStatus: Int?
    public var exitSignal: String?
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    public var errorKind: String?
    public var error: String?
    public var hostKey: String?
    public var durationMs: Int
    public var finishedAt: Date

    public enum Columns {
        public static let runId = Column("run_id")
        public static let nodeName = Column("node_name")
    }

    public init(
        runId: Int64, nodeName: String, address: String, outcome: HostOutcomeKind, exitStatus: Int?, exitSignal: String?,
        stdout: String, stderr: String, stdoutTruncated: Bool, stderrTruncated: Bool, errorKind: String?, error: String?,
        hostKey: String?, durationMs: Int, finishedAt: Date
    ) {
        self.runId = runId
        self.nodeName = nodeName
        self.address = address
        self.outcome = outcome
        self.exitStatus = exitStatus
        self.exitSignal = exitSignal
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
        self.errorKind = errorKind
        self.error = error
        self.hostKey = hostKey
        self.durationMs = durationMs
        self.finishedAt = finishedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
