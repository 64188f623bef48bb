import CaulkAPI
import CaulkDomain
import CaulkStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// `GET /v1/activity`: every change through the API is there once, with who made it, what it
/// touched and what it changed; what was refused is not.
@Suite struct ActivityTests {
    @Test func everyChangeIsRecordedWithWhoAndWhat() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, json: String? = nil, raw: String? = nil, expect status: Int) async throws {
                let reply = try await client.call(method, path, token: token, json: json, raw: raw)
                #expect(reply.status == status, "\(method) \(path): \(reply.error?.message ?? "")")
            }
            func entries(_ query: String = "") async throws -> [Activity] {
                let reply = try await client.call(.get, "/v1/activity" + query, token: h.admin)
                #expect(reply.status == 200, "\(query): \(reply.error?.message ?? "")")
                return try reply.decode(Page<Activity>.self).items
            }
            // The harness's own tokens, made before the server started.
            let made = try await entries()

            try await call(.post, "/v1/clusters", h.admin, json: APITests.cluster, expect: 201)
            try await call(.post, "/v1/clusters", h.admin, json: APITests.cluster, expect: 409)
            try await call(.patch, "/v1/clusters/prod-a", h.admin, json: #"{"ssh": {"port": 2222}}"#, expect: 200)
            try await call(.post, "/v1/nodes", h.admin, json: #"{"cluster": "prod-a", "name": "cp1", "address": "198.18.1.1", "role": "control-plane"}"#, expect: 201)
            try await call(.patch, "/v1/nodes/prod-a/cp1", h.admin, json: #"{"labels": {"zone": "a"}}"#, expect: 200)
            let file = "clusters:\n  - name: lab\n    api_endpoint: https://198.18.2.1:6443\n    nodes:\n      - {name: n1, address: 198.18.2.2}\n"
            try await call(.post, "/v1/inventory/import?dry_run=true", h.admin, raw: file, expect: 200)
            try await call(.post, "/v1/inventory/import", h.admin, raw: file, expect: 200)
            try await call(.post, "/v1/inventory/import", h.admin, raw: file, expect: 200)
            try await call(.post, "/v1/tokens", h.admin, json: #"{"name": "ci", "role": "operator", "exec": true, "ttl_seconds": 3600}"#, expect: 201)
            try await call(.delete, "/v1/tokens/ci", h.admin, expect: 200)
            try await call(.post, "/v1/schedules", h.op, json: #"{"name": "nightly", "cron": "0 3 * * *", "cluster": "prod-a"}"#, expect: 201)
            try await call(.patch, "/v1/schedules/nightly", h.op, json: #"{"paused": true}"#, expect: 200)
            try await call(.delete, "/v1/schedules/nightly", h.op, expect: 200)
            try await call(.put, "/v1/clusters/prod-a/auto-repair", h.admin, json: #"{"enabled": true}"#, expect: 200)
            let cluster = try #require(try await h.services.store.cluster(named: "prod-a")).cluster
            let run = try await RunEventsTests.run(.audit, in: cluster, store: h.services.store)
            try await call(.post, "/v1/runs/\(run)/cancel", h.op, expect: 202)
            try await call(.post, "/v1/runs/\(run)/cancel", h.admin, expect: 202)
            try await call(.delete, "/v1/nodes/prod-a/cp1", h.admin, expect: 204)
            try await call(.delete, "/v1/clusters/lab?cascade=true", h.admin, expect: 204)
            try await call(.post, "/v1/admin/purge?dry_run=true", h.admin, expect: 200)

            let all = try await entries().dropLast(made.count)
            #expect(all.map(\.action) == [
                "cluster.delete", "node.delete", "run.cancel", "auto-repair.update", "schedule.delete", "schedule.update", "schedule.create",
                "token.revoke", "token.create", "inventory.import", "node.update", "node.create", "cluster.update", "cluster.create",
            ], "refused, dry and unchanged requests record nothing; the cancel asked twice once")
            let byAction = Dictionary(all.map { ($0.action, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(byAction["cluster.create"]?.after?["api_endpoint"] == "https://198.18.1.1:6443" && byAction["cluster.create"]?.before == nil)
            #expect(byAction["cluster.update"]?.before == ["ssh.port": "22"] && byAction["cluster.update"]?.after == ["ssh.port": "2222"])
            #expect(byAction["node.create"]?.target == "prod-a/cp1" && byAction["node.create"]?.cluster == "prod-a")
            #expect(byAction["node.update"]?.before?["labels.zone"] == nil && byAction["node.update"]?.after == ["labels.zone": "a"])
            #expect(byAction["inventory.import"]?.after?["nodes_created"] == "1" && byAction["inventory.import"]?.cluster == "lab")
            #expect(byAction["token.create"]?.target == "ci" && byAction["token.create"]?.after?["exec"] == "true" && byAction["token.create"]?.after?["expires_at"] != nil)
            #expect(byAction["token.revoke"]?.before?["role"] == "operator")
            #expect(byAction["schedule.create"]?.actor == "ops" && byAction["schedule.create"]?.after?["cron"] == "0 3 * * *")
            #expect(byAction["schedule.update"]?.before == ["paused": "false"] && byAction["schedule.update"]?.after == ["paused": "true"])
            #expect(byAction["auto-repair.update"]?.after?["enabled"] == "true")
            #expect(byAction["run.cancel"]?.actor == "ops" && byAction["run.cancel"]?.target == "run \(run)")
            #expect(byAction["cluster.delete"]?.before?["node_count"] == "1" && byAction["cluster.delete"]?.target == "lab")
            #expect(all.allSatisfy { abs($0.at.timeIntervalSinceNow) < 60 })

            // Filters, and pages newest first.
            #expect(try await entries("?actor=ops").map(\.action) == ["run.cancel", "schedule.delete", "schedule.update", "schedule.create"])
            #expect(made.map(\.action) == ["token.create", "token.create", "token.create"])
            #expect(try await entries("?action=token").map(\.action) == ["token.revoke", "token.create"] + made.map(\.action))
            #expect(try await entries("?action=node.create").count == 1)
            #expect(try await entries("?cluster=lab").map(\.action) == ["cluster.delete", "inventory.import"])
            #expect(try await entries("?since=1h").count == all.count + made.count)
            #expect(try await entries("?since=2099-01-01").isEmpty)
            let first = try await client.call(.get, "/v1/activity?limit=3", token: h.admin).decode(Page<Activity>.self)
            let next = try await client.call(.get, "/v1/activity?limit=3&cursor=\(try #require(first.nextCursor))", token: h.admin).decode(Page<Activity>.self)
            #expect((first.items + next.items).map(\.id) == Array(all.prefix(6)).map(\.id))

            for (query, field) in [("?action=token.steal", "action"), ("?since=yesterday", "since"), ("?cluster=Not_A_Name", "cluster")] {
                let reply = try await client.call(.get, "/v1/activity" + query, token: h.admin)
                #expect(reply.status == 400 && reply.error?.field == field, "\(query)")
            }
            #expect(try await client.call(.get, "/v1/activity", token: h.op).status == 403)
        }
    }
}
