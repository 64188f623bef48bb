import CaulkAPI
import CaulkDomain
import Hummingbird

/// `POST /v1/clusters/{name}/repair` (operator); the auto-repair policy, `GET` (viewer) and `PUT`
/// (admin: it lets caulk change nodes with no one asking); `GET /v1/auto-repairs` (viewer).
struct RepairsController {
    let repairs: RepairService
    let autoRepairs: AutoRepairService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("clusters/:name/repair") { request, context in
            let identity = try context.require(.operator, cluster: try context.parameters.require("name"))
            let body = try await JSON.decode(
                RepairRequest.self, from: request,
                allowedKeys: ["": ["playbook", "parameters", "nodes", "batch", "max_failures", "verify_timeout", "dry_run", "confirm"]])
            let run = try await repairs.start(body, cluster: try context.parameters.require("name"), requester: identity.name, trigger: request.trigger)
            return try JSON.response(run, status: .accepted)
        }
        group.get("clusters/:name/auto-repair") { _, context in
            _ = try context.require(.viewer, cluster: try context.parameters.require("name"))
            return try JSON.response(try await autoRepairs.policy(cluster: try context.parameters.require("name")))
        }
        group.put("clusters/:name/auto-repair") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            let body = try await JSON.decode(
                AutoRepairPolicyUpdate.self, from: request, allowedKeys: ["": ["enabled", "delay_seconds", "max_per_hour", "max_disrupted_share"]])
            return try JSON.response(try await autoRepairs.update(cluster: try context.parameters.require("name"), body, by: identity.name))
        }
        group.get("auto-repairs") { request, context in
            let cluster = request.uri.queryParameters.get("cluster")
            _ = try context.require(.viewer, clusters: cluster.map { [$0] } ?? [])
            return try JSON.response(try await autoRepairs.decisions(cluster: cluster, within: context.within, paging: try request.paging()))
        }
    }
}
