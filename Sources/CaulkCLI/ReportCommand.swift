import ArgumentParser
import CaulkAPI
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Ask the fleet's history a question: reboots, post-reboot, findings.",
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

            --group-by sets the rows (cluster by default; findings: check).
            A reboot counts under what its node ran at the time (kernel, NIC
            driver, Calico version, encapsulation), as the audit that saw it,
            or the node's next audit, recorded it; what was never recorded
            shows as `unknown`. -o csv writes RFC 4180 CSV with a header row;
            -o json the API's answer.

            Examples:
              caulk report reboots --since 8w --group-by week
              caulk report post-reboot --group-by encapsulation
              caulk report findings --cluster prod-a -o csv > findings.csv
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
        try options.out.emit(report) { report in
            let heading = "\(report.report.rawValue) from \(Output.date(report.since)) to \(Output.date(report.until))"
                + (report.clusters.map { ", clusters \($0.joined(separator: ", "))" } ?? ", every cluster")
            let rows = [report.columns.map { $0.uppercased() }] + report.rows.map { $0.map(\.description) }
            return options.out.format == .csv ? [report.columns] + report.rows.map { $0.map(\.description) } : [[heading], [""]] + rows
        }
    }
}

extension ReportName: ExpressibleByArgument {}
extension ReportGroup: ExpressibleByArgument {}
