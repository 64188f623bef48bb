import CaulkAPI
import CaulkDomain
import Hummingbird

/// `GET /v1/reports/{reboots,post-reboot,findings,mttr,repairs,risk}` (viewer): the fleet's history, grouped.
struct ReportsController {
    let reports: ReportService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        for name in ReportName.allCases {
            group.get("reports/\(name.rawValue)") { request, context in
                let query = request.uri.queryParameters
                let asked = query.getAll("cluster").map { String($0) }
                _ = try context.require(.viewer, clusters: asked)
                return try JSON.response(try await reports.report(
                    name, since: query.get("since"), until: query.get("until"), clusters: asked.isEmpty ? context.within ?? [] : asked,
                    groupBy: try request.query("group_by", as: ReportGroup.self)))
            }
        }
    }
}
