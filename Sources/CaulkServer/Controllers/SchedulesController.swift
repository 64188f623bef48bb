import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/schedules`: list (viewer); add, pause/resume, remove (operator).
struct SchedulesController {
    let schedules: ScheduleService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("schedules") { _, context in
            _ = try context.require(.viewer)
            return try JSON.response(try await schedules.list(within: context.within))
        }
        group.post("schedules") { request, context in
            _ = try context.require(.operator)
            let body = try await JSON.decode(ScheduleCreate.self, from: request, allowedKeys: ["": ["name", "cron", "cluster", "all", "playbook"]])
            let identity = try Self.require(context, schedulesOf: body.all == true ? nil : body.cluster)
            return try JSON.response(try await schedules.add(body, requester: identity.name), status: .created)
        }
        group.patch("schedules/:name") { request, context in
            let identity = try await require(context, schedule: try context.parameters.require("name"))
            let body = try await JSON.decode(ScheduleUpdate.self, from: request, allowedKeys: ["": ["paused"]])
            return try JSON.response(try await schedules.update(name: try context.parameters.require("name"), body, by: identity.name))
        }
        group.delete("schedules/:name") { _, context in
            let identity = try await require(context, schedule: try context.parameters.require("name"))
            return try JSON.response(try await schedules.remove(name: try context.parameters.require("name"), by: identity.name))
        }
    }

    /// An operator who may change schedule `name`: its cluster is looked up only for a token
    /// limited to some clusters.
    func require(_ context: AppRequestContext, schedule name: String) async throws -> Identity {
        let identity = try context.require(.operator)
        guard identity.clusters != nil else { return identity }
        return try Self.require(context, schedulesOf: try await schedules.cluster(ofSchedule: name))
    }

    /// An operator who may change schedules of `cluster`; nil, a fleet-wide schedule, only one
    /// whose token reaches every cluster.
    static func require(_ context: AppRequestContext, schedulesOf cluster: String?) throws(APIError) -> Identity {
        if let cluster { return try context.require(.operator, cluster: cluster) }
        let identity = try context.require(.operator)
        if identity.clusters != nil { throw AppRequestContext.limited(identity, "a fleet-wide schedule reaches every cluster") }
        return identity
    }
}
