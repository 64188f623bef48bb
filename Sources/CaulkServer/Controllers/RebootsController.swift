import CaulkAPI
import CaulkDomain
import Hummingbird

/// `GET /v1/reboots` (viewer); `POST /v1/nodes/{cluster}/{node}/boot` (that node's own token, or an operator).
struct RebootsController {
    let reboots: RebootService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("reboots") { request, context in
            _ = try context.require(.viewer)
            let query = request.uri.queryParameters
            return try JSON.response(try await reboots.list(cluster: query.get("cluster"), node: query.get("node"), paging: try request.paging()))
        }
        group.post("nodes/:cluster/:node/boot") { request, context in
            let cluster = try context.parameters.require("cluster")
            let node = try context.parameters.require("node")
            guard let identity = context.identity else { throw APIError.unauthorized("no bearer token") }
            if identity.role == .node {
                guard identity.node == "\(cluster)/\(node)" else {
                    throw APIError.forbidden("token \(identity.name) may only announce boots of \(identity.node ?? "its own node")")
                }
            } else {
                _ = try context.require(.operator)
            }
            let body = try await JSON.decode(BootAnnouncement.self, from: request, allowedKeys: ["": ["boot_id", "uptime_seconds"]])
            let result = try await reboots.announce(cluster: cluster, node: node, body)
            return try JSON.response(result, status: result.recorded ? .created : .ok)
        }
    }
}
