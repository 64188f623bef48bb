import CaulkAPI
import CaulkDomain
import Hummingbird

/// `GET /v1/reboots` (viewer); `POST /v1/nodes/{cluster}/{node}/boot` (that node's own token, or an
/// operator); `POST /v1/clusters/{name}/beacon` (admin: it makes node tokens) and `DELETE` there
/// (admin: revokes them).
struct RebootsController {
    let reboots: RebootService
    let beacons: BeaconService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("reboots") { request, context in
            let cluster = try request.name("cluster")
            _ = try context.require(.viewer, clusters: cluster.map { [$0] } ?? [])
            return try JSON.response(try await reboots.list(
                cluster: cluster, node: try request.name("node"), within: context.within, paging: try request.paging()))
        }
        group.post("clusters/:name/beacon") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            let body = try await JSON.decode(BeaconRequest.self, from: request, allowedKeys: ["": ["url", "nodes"]])
            return try JSON.response(try await beacons.install(cluster: try context.parameters.require("name"), body, requester: identity.name, trigger: request.trigger))
        }
        group.delete("clusters/:name/beacon") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            let nodes = try request.uri.queryParameters.getAll("node").map { try Validate.name(String($0), field: "node") }
            let revoked = try await beacons.revoke(cluster: try context.parameters.require("name"), nodes: nodes.isEmpty ? nil : nodes, by: identity.name)
            return try JSON.response(Page(items: revoked, nextCursor: nil))
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
                _ = try context.require(.operator, cluster: try context.parameters.require("cluster"))
            }
            let body = try await JSON.decode(BootAnnouncement.self, from: request, allowedKeys: ["": ["boot_id", "uptime_seconds"]])
            let result = try await reboots.announce(cluster: cluster, node: node, body)
            return try JSON.response(result, status: result.recorded ? .created : .ok)
        }
    }
}
