import ArgumentParser
import CaulkAPI
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Ask the fleet's history a question: reboots, post-reboot, findings, mttr, repairs, risk.",
        discussion: """
            reboots      reboot events: how many, on how many nodes and clusters
            post-reboot  reboots, and how the node's first audit afterwards
                         judged each: faulty (which checks) or not, and
                         healthy again later; a reboot no audit could judge
                         (node unreachable, UNKNOWN) is counted, not judged
            findings     findings at warning or above: how many, on how many
                         nodes, and how many of those faults the cluster's
                         latest audit still shows (open) or no longer does
                         (resolved)
            mttr         incidents (a reboot, or a node's first faulty audit,
                         up to its next healthy audit): how many, recovery
                         time (median, p90, max, in seconds), the repairs in
                         between; the ones not recovered yet listed apart
            repairs      repair runs (dry runs left out): how they ended, the
                         nodes they worked on and recovered, failed steps
            risk         nodes likely to break at their next reboot, from
                         each cluster's latest audit, with the fix; nodes
                         that audit could not read show as unknown (--since
                         and --until do not apply)

            --group-by sets the rows (cluster by default; findings: check;
            repairs: playbook, or trigger, cluster, day, week).
            A reboot counts under what its node ran at the time (kernel, NIC
            driver, Calico version, encapsulation), as the audit that saw it,
            or the node's next audit, recorded it; what was never recorded
            shows as `unknown`. -o csv writes RFC 4180 CSV with a header row;
            -o json the API's answer.

            Examples:
              caulk report reboots --since 8w --group-by week
              caulk report post-reboot --group-by encapsulation
              caulk report findings --cluster prod-a -o csv > findings.csv
              caulk report mttr --since 90d --group-by calico-version
              caulk report risk

            Data older than the service's retention settings is purged; a
            report whose range reaches before that says so.
            """
    )
    @OptionGroup var options: ClientOptions
    @Argument(help: "The report.") var name: ReportName
    @Option(name: .customLong("cluster"), help: "Only this cluster (repeat for more).") var clusters: [String] = []
    @Option(help: "From: how long ago (12h, 30d, 8w) or a date (2026-11-01) or time (2026-11-01T06:00:00Z). Default: 30d.")
    var since: String?
    @Option(help: "Up to (not including): the same forms. Default: now.") var until: String?
    @Option(name: .customLong("group-by"), help: "What the rows are.")
    var groupBy: ReportGroup?

    func run() async throws {
        var query = clusters.map { ("cluster", $0) }
        if let since { query.append(("since", since)) }
        if let until { query.append(("until", until)) }
        if let groupBy { query.append(("group_by", groupBy.rawValue)) }
        let report = try await options.client().get("/v1/reports/\(name.rawValue)", query: query, as: Report.self)
        let purged = report.purgedBefore.map { "data before \(Output.date($0)) was purged (retention); counts before then are incomplete" }
        if let purged, options.out.format != .table { FileHandle.standardError.write(Data("note: \(purged)\n".utf8)) }
        try options.out.emit(report) { report in
            guard options.out.format == .table else { return [report.columns] + report.rows.map { $0.map(\.description) } }
            let heading = "\(report.report.rawValue) from \(Output.date(report.since)) to \(Output.date(report.until))"
                + (report.clusters.map { ", clusters \($0.joined(separator: ", "))" } ?? ", every cluster")
            var rows = [[heading]] + (purged.map { [["note: " + $0]] } ?? []) + [[""], report.columns.map { $0.uppercased() }]
            rows += report.rows.map { $0.map(\.description) }
            if let details = report.details, !details.rows.isEmpty {
                rows += [[""], [details.title + ":"], details.columns.map { $0.uppercased() }] + details.rows.map { $0.map(\.description) }
            }
            return rows
        }
    }
}

extension ReportName: ExpressibleByArgument {}
extension ReportGroup: ExpressibleByArgument {}
