import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/schedules`: list (viewer); add, pause/resume, remove (operator).
struct SchedulesController {
    let schedules: ScheduleService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("schedules") { _, context in
            _ = try context.require(.viewer)
            return try JSON.response(try await schedules.list())
        }
        group.post("schedules") { request, context in
            let identity = try context.require(.operator)
            let body = try await JSON.decode(ScheduleCreate.self, from: request, allowedKeys: ["": ["name", "cron", "cluster", "all", "playbook"]])
            return try JSON.response(try await schedules.add(body, requester: identity.name), status: .created)
        }
        group.patch("schedules/:name") { request, context in
            let identity = try context.require(.operator)
            let body = try await JSON.decode(ScheduleUpdate.self, from: request, allowedKeys: ["": ["paused"]])
            return try JSON.response(try await schedules.update(name: try context.parameters.require("name"), body, by: identity.name))
        }
        group.delete("schedules/:name") { _, context in
            let identity = try context.require(.operator)
            return try JSON.response(try await schedules.remove(name: try context.parameters.require("name"), by: identity.name))
        }
    }
}
