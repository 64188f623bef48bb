import CaulkAPI
import CaulkDomain
import Hummingbird
import NIOCore

/// `POST /v1/clusters/{name}/exec` and `POST /v1/runs/{id}/cancel` (operator), `/v1/runs`,
/// `/v1/runs/{id}` and its events (viewer), `POST /v1/clusters/{name}/trust` (admin).
struct RunsController {
    let runs: RunHistory
    let exec: ExecService
    let trust: HostKeyTrust

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("clusters/:name/exec") { request, context in
            let identity = try context.requireExec(cluster: try context.parameters.require("name"))
            let body = try await JSON.decode(ExecRequest.self, from: request, allowedKeys: ["": ["command", "nodes", "role", "labels", "timeout", "concurrency"]])
            let prepared = try await exec.prepare(body, cluster: try context.parameters.require("name"), requester: identity.name, trigger: request.trigger)
            // One JSON object a line, each host as it finishes; the run keeps its own record.
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-ndjson"],
                body: ResponseBody { writer in
                    try await writer.write(try Self.line(ExecEvent(event: .started, run: prepared.run)))
                    let run = try await exec.run(prepared) { host in
                        try await writer.write(try Self.line(ExecEvent(event: .host, host: host)))
                    }
                    try await writer.write(try Self.line(ExecEvent(event: .finished, run: run)))
                    try await writer.finish(nil)
                })
        }
        group.get("runs") { request, context in
            let cluster = try request.name("cluster")
            _ = try context.require(.viewer, clusters: cluster.map { [$0] } ?? [])
            let page = try await runs.list(
                cluster: cluster, kind: try request.query("kind", as: RunKind.self), within: context.within, paging: try request.paging())
            return try JSON.response(page)
        }
        group.get("runs/:id") { _, context in
            let id = try context.id(of: "run")
            _ = try await context.require(.viewer) { try await runs.cluster(ofRun: id) }
            return try JSON.response(try await runs.show(id))
        }
        group.get("runs/:id/events") { request, context in
            _ = try context.require(.viewer)
            let id = try context.id(of: "run")
            var after: Int64 = 0
            if let text = request.uri.queryParameters.get("after") {
                guard let value = Int64(text) else { throw APIError.badRequest(field: "after", message: "after is the seq of an event already seen") }
                after = value
            }
            _ = try await context.require(.viewer) { try await runs.cluster(ofRun: id) }
            let follower = try await runs.follower(id, after: after)
            // One JSON object a line as nodes land, until the run ends.
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-ndjson"],
                body: ResponseBody { writer in
                    try await follower.run { event in try await writer.write(try Self.line(event)) }
                    try await writer.finish(nil)
                })
        }
        group.post("runs/:id/cancel") { _, context in
            let id = try context.id(of: "run")
            let identity = try await context.require(.operator) { try await runs.cluster(ofRun: id) }
            // Accepted: the run is still running until it reaches its next step boundary.
            return try JSON.response(try await runs.cancel(id, requester: identity.name), status: .accepted)
        }
        group.post("clusters/:name/trust") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            let body = try await JSON.decode(TrustRequest.self, from: request, allowedKeys: ["": ["nodes", "expect"]])
            return try JSON.response(try await trust.trust(cluster: try context.parameters.require("name"), body, by: identity.name))
        }
    }

    static func line<T: Encodable>(_ value: T) throws -> ByteBuffer {
        var data = try JSONCoding.encoder().encode(value)
        data.append(0x0A)
        return ByteBuffer(bytes: data)
    }
}
