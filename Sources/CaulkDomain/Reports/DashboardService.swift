import CaulkAPI
import CaulkStore
import Foundation

/// What the dashboard (`/ui`) shows: the fleet now, what happened lately, and weekly trends.
public struct Dashboard: Sendable {
    public struct Week: Sendable, Equatable {
        /// The Monday it starts on, `2026-11-23`.
        public var monday: String
        public var reboots = 0
        /// Of the reboots an audit judged afterwards, the share found faulty; nil: none judged.
        public var faultyPercent: Int?
        /// Median time to recover of the incidents that began that week and recovered.
        public var mttrMedianSeconds: Int?
        public var repairsSucceeded = 0, repairsFailed = 0, repairsStopped = 0
    }

    public var generatedAt: Date
    public var clusters: [ClusterOverview]
    public var running: [Run]
    public var recentReboots: [RebootEvent]
    public var recentRepairs: [Run]
    public var weeks: [Week]
    /// Set when retention purged data the charts read from within their range.
    public var purgedBefore: Date?
}

/// Builds the dashboard from the inventory, the run history and the weekly reports.
public struct DashboardService: Sendable {
    let store: Store
    let reports: ReportService
    let runs: RunHistory
    let reboots: RebootService
    let clock: @Sendable () -> Date

    public init(store: Store, reports: ReportService, runs: RunHistory, reboots: RebootService, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.reports = reports
        self.runs = runs
        self.reboots = reboots
        self.clock = clock
    }

    /// The reports behind the charts and the fleet's state are read side by side (the database
    /// serves reads on several connections at once).
    public func dashboard(weeks count: Int = 12) async throws -> Dashboard {
        let now = clock()
        let mondays = Self.mondays(endingAt: now, count: count)
        func weekly(_ name: ReportName) async throws -> Report {
            try await reports.report(name, since: mondays[0], until: nil, clusters: [], groupBy: .week)
        }
        async let rebootReport = weekly(.reboots)
        async let postReboot = weekly(.postReboot)
        async let mttr = weekly(.mttr)
        async let repairReport = weekly(.repairs)
        async let clusters = store.fleetOverview()
        async let recentReboots = reboots.list(cluster: nil, node: nil, paging: Paging(limit: 10))
        async let recentRepairs = runs.list(cluster: nil, kind: .repair, paging: Paging(limit: 10))

        var weeks = mondays.map { Dashboard.Week(monday: $0) }
        func fill(_ report: Report, _ update: (inout Dashboard.Week, [ReportCell]) -> Void) {
            for row in report.rows {
                guard let index = mondays.firstIndex(of: row[0].description) else { continue }
                update(&weeks[index], row)
            }
        }
        func int(_ cell: ReportCell) -> Int? { if case .int(let value) = cell { value } else { nil } }
        let (rebootRows, repairRows) = try await (rebootReport, repairReport)
        fill(rebootRows) { week, row in week.reboots = int(row[1]) ?? 0 }
        fill(try await postReboot) { week, row in week.faultyPercent = int(row[4]) }
        fill(try await mttr) { week, row in week.mttrMedianSeconds = int(row[4]) }
        fill(repairRows) { week, row in
            week.repairsSucceeded = int(row[2]) ?? 0
            week.repairsFailed = int(row[3]) ?? 0
            week.repairsStopped = int(row[4]) ?? 0
        }
        var running: [Run] = []
        for record in try await store.runningRuns(limit: 20) { running.append(try await runs.run(record)) }
        return Dashboard(
            generatedAt: now, clusters: try await clusters, running: running, recentReboots: try await recentReboots.items,
            recentRepairs: try await recentRepairs.items, weeks: weeks,
            purgedBefore: [rebootRows.purgedBefore, repairRows.purgedBefore].compactMap { $0 }.max())
    }

    /// The Mondays (UTC) of the last `count` weeks, the current one last.
    static func mondays(endingAt now: Date, count: Int) -> [String] {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let thisMonday = calendar.dateInterval(of: .weekOfYear, for: now)!.start
        return (0..<count).reversed().map { back in
            String(JSONCoding.formatDate(thisMonday.addingTimeInterval(-Double(back) * 7 * 86_400)).prefix(10))
        }
    }
}
