import CaulkAPI
import CaulkDomain
import Hummingbird

/// `POST /v1/audits` (operator), `GET /v1/clusters/{name}/health` and `GET /v1/playbooks` (viewer).
struct AuditsController {
    let audits: AuditService
    let playbooks: PlaybookLibrary

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("audits") { request, context in
            _ = try context.require(.operator)
            let body = try await JSON.decode(
                AuditRequest.self, from: request, allowedKeys: ["": ["clusters", "all", "playbook", "parameters", "concurrency"]])
            let identity = try context.require(.operator, clusters: body.clusters ?? [])
            // The whole fleet, to a token limited to some clusters, is those clusters.
            let started = try await audits.start(body, requester: identity.name, trigger: request.trigger, within: context.within)
            return try JSON.response(started, status: .accepted)
        }
        group.get("clusters/:name/health") { _, context in
            _ = try context.require(.viewer, cluster: try context.parameters.require("name"))
            return try JSON.response(try await audits.health(cluster: try context.parameters.require("name")))
        }
        group.get("playbooks") { _, context in
            _ = try context.require(.viewer)
            let infos = playbooks.playbooks.values.sorted { $0.name < $1.name }.map {
                PlaybookInfo(
                    name: $0.name, kind: $0.kind.rawValue, description: $0.description, source: $0.source, steps: $0.steps.map(\.name),
                    checks: $0.checks.map(\.id), parameters: Dictionary(uniqueKeysWithValues: $0.parameters.map { ($0.name, $0.defaultValue) }),
                    traits: [($0.disruptive, "disruptive"), ($0.optIn, "opt-in"), ($0.needsConfirmation, "needs-confirm")].filter(\.0).map(\.1),
                    repairs: $0.repairs)
            }
            return try JSON.response(infos)
        }
    }
}

extension Request {
    /// `cli` when the caulk client sent it, else `api`.
    var trigger: RunTrigger {
        headers[.userAgent]?.hasPrefix("caulk/") == true ? .cli : .api
    }
}
