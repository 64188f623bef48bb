import Foundation

/// The questions `GET /v1/reports/{name}` answers from the fleet's history.
public enum ReportName: String, Codable, Sendable, CaseIterable {
    /// Reboot events: how many, on how many nodes and clusters.
    case reboots
    /// Reboots, and how many of those the node's first audit afterwards found faulty (with which
    /// checks), and how many of those were healthy again later: the fleet's own answer to "does
    /// the pod network survive a reboot?".
    case postReboot = "post-reboot"
    /// Findings at warning or above: how many, on how many nodes, and how many of those faults the
    /// cluster's latest audit still shows (open) or no longer does (resolved).
    case findings
    /// Recovery times: from a reboot (or a node's first faulty audit) to the node's next healthy
    /// audit, with the repairs in between; those not recovered yet listed apart.
    case mttr
    /// Repair runs: how they ended, the nodes they touched and the steps that failed.
    case repairs
    /// Nodes likely to fail at their next reboot, from each cluster's latest audit, with the fix.
    case risk
}

/// What a report's rows are grouped by.
public enum ReportGroup: String, Codable, Sendable, CaseIterable {
    case cluster, encapsulation
    case calicoVersion = "calico-version"
    case kernel, os
    case nicDriver = "nic-driver"
    case check, day, week
    /// Repairs only: the repair playbook, and what started the run (cli, api, schedule, auto).
    case playbook, trigger
}

/// One cell of a report: a count, a label, or nothing known.
public enum ReportCell: Codable, Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case string(String)
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): value
        case .null: ""
        }
    }
}

/// A table of rows under named columns.
public struct ReportTable: Codable, Sendable, Equatable {
    public var title: String
    public var columns: [String]
    public var rows: [[ReportCell]]

    public init(title: String, columns: [String], rows: [[ReportCell]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }
}

/// A report: its columns, then one row per group, in the group's order.
public struct Report: Codable, Sendable, Equatable {
    public var report: ReportName
    public var since: Date
    public var until: Date
    /// The clusters it covers; absent: every cluster.
    public var clusters: [String]?
    public var groupBy: ReportGroup
    public var columns: [String]
    public var rows: [[ReportCell]]
    /// Rows that need a table of their own (mttr: the incidents not recovered yet).
    public var details: ReportTable?
    /// Set when retention purged data this report reads from before this time, which is after
    /// `since`: the counts before it are incomplete.
    public var purgedBefore: Date?

    public init(
        report: ReportName, since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup, columns: [String], rows: [[ReportCell]],
        details: ReportTable? = nil, purgedBefore: Date? = nil
    ) {
        self.details = details
        self.purgedBefore = purgedBefore
        self.report = report
        self.since = since
        self.until = until
        self.clusters = clusters
        self.groupBy = groupBy
        self.columns = columns
        self.rows = rows
    }
}
