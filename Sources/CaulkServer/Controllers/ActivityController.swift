import CaulkDomain
import Hummingbird

/// `/v1/activity` (admins): who changed what, newest first.
struct ActivityController {
    let activity: ActivityLog

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("activity") { request, context in
            _ = try context.require(.admin)
            let query = request.uri.queryParameters
            return try JSON.response(try await activity.list(
                since: query.get("since"), actor: query.get("actor"), cluster: try request.name("cluster"), action: query.get("action"),
                paging: try request.paging()))
        }
    }
}
