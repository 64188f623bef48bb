import Foundation

/// What retention keeps for a limited time, each class with its own age limit.
public enum RetentionClass: String, Codable, Sendable, CaseIterable {
    /// Commands' standard output and error in runs and repair steps (emptied; the rows stay).
    case output
    /// What audits read on each node (the `facts` object; emptied, the node's verdict stays).
    case facts
    /// Audit findings.
    case findings
    /// Runs, with their hosts, audited nodes, findings, repaired nodes and steps.
    case runs
    /// Reboot events (with their verdicts), incidents, auto-repair decisions, and webhook events
    /// with their deliveries once none is still to be sent.
    case events
    /// The activity log: who changed what.
    case activity
}

/// One class in a purge, or what a dry run would purge.
public struct RetentionPurge: Codable, Sendable, Equatable {
    public var `class`: RetentionClass
    /// Kept for this many days; nil: kept forever.
    public var keepDays: Int?
    /// Everything older than this goes; nil: kept forever.
    public var cutoff: Date?
    /// Rows emptied or deleted (dry run: that would be).
    public var rows: Int
    /// Everything of the class before this time is gone, as far as recorded.
    public var purgedBefore: Date?

    public init(class: RetentionClass, keepDays: Int?, cutoff: Date?, rows: Int, purgedBefore: Date?) {
        self.class = `class`
        self.keepDays = keepDays
        self.cutoff = cutoff
        self.rows = rows
        self.purgedBefore = purgedBefore
    }
}

/// The answer of `POST /v1/admin/purge`.
public struct PurgeResult: Codable, Sendable, Equatable {
    public var dryRun: Bool
    public var classes: [RetentionPurge]
    /// Bytes of the database file before and after (after the incremental vacuum).
    public var fileBytesBefore: Int64?
    public var fileBytesAfter: Int64?

    public init(dryRun: Bool, classes: [RetentionPurge], fileBytesBefore: Int64?, fileBytesAfter: Int64?) {
        self.dryRun = dryRun
        self.classes = classes
        self.fileBytesBefore = fileBytesBefore
        self.fileBytesAfter = fileBytesAfter
    }
}
