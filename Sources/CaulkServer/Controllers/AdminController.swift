import CaulkAPI
import CaulkDomain
import Hummingbird

/// `POST /v1/admin/purge[?dry_run=true]` (admin): apply the retention policy now, or show what
/// it would remove.
struct AdminController {
    let retention: RetentionService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("admin/purge") { request, context in
            let identity = try context.require(.admin)
            return try JSON.response(try await retention.purge(dryRun: try request.flag("dry_run"), by: identity.name))
        }
    }
}
