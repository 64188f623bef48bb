import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/webhooks` and `/v1/deliveries` (admins): webhooks carry their receivers' secrets (a
/// Slack URL is one), so only admins see or change them.
struct NotificationsController {
    let notifications: NotificationService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("webhooks") { _, context in
            _ = try context.require(.admin)
            return try JSON.response(try await notifications.list())
        }
        group.post("webhooks") { request, context in
            let identity = try context.require(.admin)
            let input = try await JSON.decode(WebhookInput.self, from: request, allowedKeys: ["": ["name", "url", "cluster", "on", "format", "secret"]])
            return try JSON.response(try await notifications.add(input, by: identity.name), status: .created)
        }
        group.get("webhooks/:name") { _, context in
            _ = try context.require(.admin)
            return try JSON.response(try await notifications.show(try context.parameters.require("name")))
        }
        group.delete("webhooks/:name") { _, context in
            let identity = try context.require(.admin)
            return try JSON.response(try await notifications.remove(try context.parameters.require("name"), by: identity.name))
        }
        group.post("webhooks/:name/test") { _, context in
            let identity = try context.require(.admin)
            return try JSON.response(try await notifications.test(try context.parameters.require("name"), by: identity.name), status: .accepted)
        }
        group.get("deliveries") { request, context in
            _ = try context.require(.admin)
            return try JSON.response(try await notifications.log(
                webhook: try request.name("webhook"), status: try request.query("status", as: DeliveryStatus.self),
                event: try request.query("event", as: NotificationKind.self), cluster: try request.name("cluster"), paging: try request.paging()))
        }
        group.get("deliveries/:id") { _, context in
            _ = try context.require(.admin)
            return try JSON.response(try await notifications.delivery(try context.id(of: "delivery")))
        }
    }
}
