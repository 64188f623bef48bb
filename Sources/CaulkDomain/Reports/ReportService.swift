import CaulkAPI
import CaulkStore
import Foundation

/// Questions asked of the fleet's history (`caulk report`, `GET /v1/reports/{name}`), answered
/// from what was recorded at the time: reboot events, audits with what each node ran then, and
/// repairs.
public struct ReportService: Sendable {
    let store: Store
    let library: PlaybookLibrary
    let clock: @Sendable () -> Date

    public init(store: Store, library: PlaybookLibrary, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.library = library
        self.clock = clock
    }

    /// What each report can be grouped by, and its default.
    static func groups(of report: ReportName) -> (all: [ReportGroup], default: ReportGroup) {
        let nodeFacts: [ReportGroup] = [.cluster, .encapsulation, .calicoVersion, .kernel, .os, .nicDriver, .day, .week]
        return switch report {
        case .reboots, .postReboot, .mttr: (nodeFacts, .cluster)
        case .findings: (nodeFacts + [.check], .check)
        case .repairs: ([.cluster, .playbook, .trigger, .day, .week], .playbook)
        case .risk: ([.cluster], .cluster)
        }
    }

    /// The kinds of data each report reads, for saying when retention purged part of its range.
    static func reads(_ report: ReportName) -> [RetentionClass] {
        switch report {
        case .reboots: [.events, .runs]
        case .postReboot, .mttr: [.events, .runs, .findings]
        case .findings: [.findings, .runs]
        case .repairs: [.runs]
        case .risk: []
        }
    }

    /// `since` and `until`: a time (`2026-11-01`, `2026-11-01T06:00:00Z`) or how long ago
    /// (`12h`, `30d`, `8w`); by default the last 30 days up to now. `clusters`: only these.
    public func report(_ name: ReportName, since: String?, until: String?, clusters: [String], groupBy: ReportGroup?) async throws -> Report {
        let now = clock()
        let from = try since.map { text throws(DomainError) in try Self.time(text, field: "since", now: now) } ?? now.addingTimeInterval(-30 * 86_400)
        let to = try until.map { text throws(DomainError) in try Self.time(text, field: "until", now: now) } ?? now
        guard clusters.count <= 100 else { throw DomainError.invalid(field: "cluster", message: "at most 100 clusters; leave it out for every cluster") }
        let names = try clusters.map { name throws(DomainError) in try Validate.name(name, field: "cluster") }
        let groups = Self.groups(of: name)
        let group = groupBy ?? groups.default
        guard groups.all.contains(group) else {
            throw DomainError.invalid(
                field: "group_by",
                message: "\(name.rawValue) cannot be grouped by \(group.rawValue); group it by one of: \(groups.all.map(\.rawValue).joined(separator: ", "))")
        }
        let only = names.isEmpty ? nil : Array(Set(names)).sorted()
        let (columns, rows): ([String], [[ReportCell]])
        var details: ReportTable?
        switch name {
        case .reboots:
            columns = [group.rawValue, "reboots", "nodes", "clusters"]
            rows = try await store.rebootReport(since: from, until: to, clusters: only, groupBy: group)
        case .postReboot:
            columns = [group.rawValue, "reboots", "judged", "faulty", "faulty_percent", "recovered", "checks"]
            rows = try await store.postRebootReport(since: from, until: to, clusters: only, groupBy: group)
        case .findings:
            columns = [group.rawValue, "findings", "nodes", "open", "resolved"]
            rows = try await store.findingReport(since: from, until: to, clusters: only, groupBy: group)
        case .mttr:
            columns = [group.rawValue] + Self.mttrColumns
            let incidents = try await store.incidents(since: from, until: to, clusters: only, groupBy: group)
            rows = Self.mttr(incidents)
            details = Self.unrecovered(incidents)
        case .repairs:
            columns = [group.rawValue, "runs", "succeeded", "failed", "stopped", "running", "success_percent", "nodes_touched", "nodes_recovered", "steps_failed"]
            rows = try await store.repairReport(since: from, until: to, clusters: only, groupBy: group)
        case .risk:
            columns = Self.riskColumns
            rows = try await risk(clusters: only)
        }
        let purged = try await store.purgedBefore(Self.reads(name))
        return Report(
            report: name, since: from, until: to, clusters: only, groupBy: group, columns: columns, rows: rows, details: details,
            purgedBefore: purged.flatMap { $0 > from ? $0 : nil })
    }

    /// `12h`, `30d`, `8w` before `now`, or a date (midnight UTC) or date and time (RFC 3339).
    static func time(_ text: String, field: String, now: Date) throws(DomainError) -> Date {
        if let seconds = Span.seconds(text, units: ["h", "d", "w"]) { return now.addingTimeInterval(-Double(seconds)) }
        // A calendar date that exists (no 2026-02-30), alone or with a time of day and zone.
        if let match = text.wholeMatch(of: /([0-9]{4}-[0-9]{2}-[0-9]{2})(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?/),
            let midnight = try? Date(String(match.1) + "T00:00:00Z", strategy: .iso8601),
            JSONCoding.formatDate(midnight).hasPrefix(String(match.1))
        {
            guard match.2 != nil else { return midnight }
            if let date = JSONCoding.parseDate(text) ?? (try? Date(text, strategy: .iso8601)) { return date }
        }
        throw .invalid(field: field, message: "'\(text)' is not a time; write how long ago (12h, 30d, 8w), a date (2026-11-01) or a date and time (2026-11-01T06:00:00Z)")
    }
}
