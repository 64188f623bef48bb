import CaulkAPI
import CaulkDomain
@testable import CaulkServer
import CaulkStore
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Every route against every kind of token: below the right a route needs it is 403 and says
/// what is needed; at or above it, the route answers (400, 404, 2xx…), never 401 or 403.
@Suite struct RoleMatrixTests {
    /// What each route needs, by rank: viewer < operator < exec (an operator granted it) < admin.
    enum Right: Int, Comparable {
        case viewer, `operator`, exec, admin
        static func < (lhs: Right, rhs: Right) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    static let needs: [String: Right] = [
        "GET /v1/whoami": .viewer,
        "GET /v1/clusters": .viewer, "GET /v1/clusters/{name}": .viewer, "GET /v1/clusters/{name}/health": .viewer,
        "POST /v1/clusters": .admin, "PATCH /v1/clusters/{name}": .admin, "DELETE /v1/clusters/{name}": .admin,
        "GET /v1/nodes": .viewer, "GET /v1/nodes/{cluster}/{node}": .viewer,
        "POST /v1/nodes": .admin, "PATCH /v1/nodes/{cluster}/{node}": .admin, "DELETE /v1/nodes/{cluster}/{node}": .admin,
        "POST /v1/inventory/import": .admin,
        "POST /v1/clusters/{name}/exec": .exec,
        "GET /v1/runs": .viewer, "GET /v1/runs/{id}": .viewer, "GET /v1/runs/{id}/events": .viewer,
        "POST /v1/runs/{id}/cancel": .operator,
        "POST /v1/clusters/{name}/trust": .admin,
        "POST /v1/audits": .operator, "GET /v1/playbooks": .viewer,
        "POST /v1/clusters/{name}/repair": .operator,
        "GET /v1/clusters/{name}/auto-repair": .viewer, "PUT /v1/clusters/{name}/auto-repair": .admin, "GET /v1/auto-repairs": .viewer,
        "GET /v1/reboots": .viewer, "POST /v1/clusters/{name}/beacon": .admin, "DELETE /v1/clusters/{name}/beacon": .admin,
        "POST /v1/nodes/{cluster}/{node}/boot": .operator,
        "GET /v1/schedules": .viewer, "POST /v1/schedules": .operator, "PATCH /v1/schedules/{name}": .operator,
        "DELETE /v1/schedules/{name}": .operator,
        "GET /v1/tokens": .admin, "POST /v1/tokens": .admin, "DELETE /v1/tokens/{name}": .admin,
        "POST /v1/admin/purge": .admin, "GET /v1/activity": .admin,
        "GET /v1/webhooks": .admin, "POST /v1/webhooks": .admin, "GET /v1/webhooks/{name}": .admin, "DELETE /v1/webhooks/{name}": .admin,
        "POST /v1/webhooks/{name}/test": .admin, "GET /v1/deliveries": .admin, "GET /v1/deliveries/{id}": .admin,
        "GET /v1/reports/reboots": .viewer, "GET /v1/reports/post-reboot": .viewer, "GET /v1/reports/findings": .viewer,
        "GET /v1/reports/mttr": .viewer, "GET /v1/reports/repairs": .viewer, "GET /v1/reports/risk": .viewer,
    ]

    @Test func everyRouteRefusesWhoLacksItsRightAndServesWhoHasIt() async throws {
        let h = try await Harness()
        let exec = try await h.services.tokens.create(TokenInput(name: "opx", role: .operator, exec: true), by: "test").secret
        let tokens: [(String, Right, String)] = [("viewer", .viewer, h.viewer), ("operator", .operator, h.op), ("exec", .exec, exec), ("admin", .admin, h.admin)]
        let router = buildRouter(h.services)
        let served = router.routes.map { "\($0.method.rawValue) /\($0.path.description.drop { $0 == "/" })" }.filter { $0.contains(" /v1/") && !$0.hasSuffix("openapi.yaml") }
        #expect(Set(served) == Set(Self.needs.keys), "a route without its right in this table, or a right for no route")

        try await h.application().test(.router) { client in
            for route in served.sorted() {
                let parts = route.split(separator: " ")
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                // Nothing by these names exists, and the bodies are empty: an allowed caller gets
                // a 400 or 404 at worst, and nothing is changed.
                let path = parts[1].split(separator: "/").map { $0 == "{id}" ? "999" : $0.hasPrefix("{") ? "nosuch" : String($0) }.joined(separator: "/")
                let body = method == .get || method == .delete ? nil : "{}"
                for (name, right, token) in tokens {
                    let reply = try await client.call(method, "/" + path, token: token, json: body)
                    if right < Self.needs[route]! {
                        #expect(reply.status == 403, "\(name) on \(route)")
                        #expect(reply.error?.message.contains(Self.needs[route] == .exec && right == .operator ? "--exec" : "needs") == true, "\(name) on \(route): \(reply.error?.message ?? "")")
                    } else {
                        #expect(![401, 403].contains(reply.status), "\(name) on \(route): \(reply.status) \(reply.error?.message ?? "")")
                    }
                }
            }
        }
    }

    /// An expired token is refused everywhere, saying that it expired and when, and stays listed
    /// with its expiry until it is revoked.
    @Test func anExpiredTokenIsRefusedWithWhy() async throws {
        let h = try await Harness()
        let created = try await h.services.tokens.create(TokenInput(name: "temp", role: .admin, ttlSeconds: 3600), by: "test")
        try await h.application().test(.router) { client in
            var reply = try await client.call(.get, "/v1/whoami", token: created.secret)
            #expect(reply.status == 200)
            // Dates travel in milliseconds.
            let expiry = try #require(try reply.decode(Identity.self).expiresAt)
            #expect(abs(expiry.timeIntervalSince(try #require(created.token.expiresAt))) < 0.002)
            try await h.services.store.writer.write { db in
                try db.execute(sql: "UPDATE tokens SET expires_at = ? WHERE name = 'temp'", arguments: [Date().addingTimeInterval(-5)])
            }
            for (method, path) in [(HTTPRequest.Method.get, "/v1/whoami"), (.get, "/v1/clusters"), (.post, "/v1/tokens")] {
                reply = try await client.call(method, path, token: created.secret, json: method == .post ? "{}" : nil)
                #expect(reply.status == 401)
                #expect(reply.error?.message.hasPrefix("token temp expired at ") == true, "\(reply.error?.message ?? "")")
            }
            reply = try await client.call(.get, "/v1/tokens", token: h.admin)
            let temp = try reply.decode(Page<TokenInfo>.self).items.first { $0.name == "temp" }
            #expect(temp?.expiresAt != nil && temp?.revokedAt == nil)
            // Asking for what the schema does not allow is a 400 naming the field.
            for (body, field) in [
                (#"{"name": "x", "role": "viewer", "exec": true}"#, "exec"),
                (#"{"name": "x", "role": "admin", "exec": true}"#, "exec"),
                (#"{"name": "x", "role": "viewer", "ttl_seconds": 5}"#, "ttl_seconds"),
                (#"{"name": "x", "role": "viewer", "ttl_seconds": "30d"}"#, "ttl_seconds"),
            ] {
                reply = try await client.call(.post, "/v1/tokens", token: h.admin, json: body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.error?.field == field, "\(body): \(reply.error?.field ?? "-") \(reply.error?.message ?? "")")
            }
        }
    }
}

/// A token limited to some clusters: refused (403) on every route that names another cluster or
/// one of its runs or schedules, and shown only its own clusters in every list and report.
@Suite struct ClusterScopeTests {
    @Test func aLimitedTokenIsBlindToOtherClusters() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            for name in ["prod-a", "prod-b"] {
                let cluster = APITests.cluster.replacingOccurrences(of: "prod-a", with: name)
                #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: cluster).status == 201)
            }
            // prod-a has no nodes: an audit of everything it reaches starts nothing.
            #expect(try await client.call(.post, "/v1/nodes", token: h.admin, json: #"{"cluster": "prod-b", "name": "b1", "address": "198.18.1.9"}"#).status == 201)
            let store = h.services.store
            let a = try #require(try await store.cluster(named: "prod-a")).cluster
            let b = try #require(try await store.cluster(named: "prod-b")).cluster
            let runA = try await RunEventsTests.run(.audit, in: a, store: store)
            let runB = try await RunEventsTests.run(.audit, in: b, store: store)
            for (name, where_) in [("sa", #""cluster": "prod-a""#), ("sb", #""cluster": "prod-b""#), ("fleet", #""all": true"#)] {
                let body = #"{"name": "\#(name)", "cron": "0 3 * * *", \#(where_)}"#
                #expect(try await client.call(.post, "/v1/schedules", token: h.admin, json: body).status == 201)
            }

            // Only viewer and operator tokens are limited, to clusters that exist.
            for (body, field) in [
                (#"{"name": "x", "role": "admin", "clusters": ["prod-a"]}"#, "clusters"),
                (#"{"name": "x", "role": "viewer", "clusters": []}"#, "clusters"),
                (#"{"name": "x", "role": "viewer", "clusters": ["Bad_Name"]}"#, "clusters"),
            ] {
                let reply = try await client.call(.post, "/v1/tokens", token: h.admin, json: body)
                #expect(reply.status == 400 && reply.error?.field == field, "\(body): \(reply.error?.message ?? "")")
            }
            let unknown = try await client.call(.post, "/v1/tokens", token: h.admin, json: #"{"name": "x", "role": "viewer", "clusters": ["nope"]}"#)
            #expect(unknown.status == 404 && unknown.error?.message.contains("no cluster named nope") == true)
            func token(_ name: String, _ role: String) async throws -> String {
                let body = #"{"name": "\#(name)", "role": "\#(role)", "exec": \#(role == "operator"), "clusters": ["prod-a", "prod-a"]}"#
                let reply = try await client.call(.post, "/v1/tokens", token: h.admin, json: body)
                #expect(reply.status == 201, "\(reply.error?.message ?? "")")
                let created = try reply.decode(CreatedToken.self)
                #expect(created.token.clusters == ["prod-a"])
                return created.secret
            }
            let viewer = try await token("va", "viewer")
            let op = try await token("oa", "operator")
            #expect(try await client.call(.get, "/v1/whoami", token: op).decode(Identity.self).clusters == ["prod-a"])

            // Every route that names a cluster, node, run or schedule: the other cluster's is 403.
            for (route, right) in RoleMatrixTests.needs where right < .admin {
                let parts = route.split(separator: " ")
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let token = right == .viewer ? viewer : op
                func path(cluster: String, run: Int64, schedule: String) -> String {
                    "/" + parts[1].split(separator: "/").map {
                        switch $0 {
                        case "{name}" where parts[1].contains("schedules"): schedule
                        case "{name}", "{cluster}": cluster
                        case "{id}": String(run)
                        case "{node}": "b1"
                        default: String($0)
                        }
                    }.joined(separator: "/")
                }
                let named = ["{name}", "{cluster}", "{id}"].contains { parts[1].contains($0) }
                guard named else { continue }
                let body = method == .get || method == .delete ? nil : "{}"
                let other = try await client.call(method, path(cluster: "prod-b", run: runB, schedule: "sb"), token: token, json: body)
                #expect(other.status == 403, "\(route) on prod-b: \(other.status)")
                #expect(other.error?.message.contains("reaches only cluster(s) prod-a") == true, "\(route): \(other.error?.message ?? "")")
                // (Not the events of run A: they stream until it ends, and it never does here.)
                if method == .get, !route.hasSuffix("/events") {
                    let own = try await client.call(method, path(cluster: "prod-a", run: runA, schedule: "sa"), token: token)
                    #expect(![401, 403].contains(own.status), "\(route) on prod-a: \(own.status) \(own.error?.message ?? "")")
                }
            }

            // Lists and reports: only prod-a, whether asked for everything or for prod-b.
            func items<T: Codable & Sendable>(_ path: String, _ type: T.Type) async throws -> [T] {
                try await client.call(.get, path, token: viewer).decode(Page<T>.self).items
            }
            #expect(try await items("/v1/clusters", Cluster.self).map(\.name) == ["prod-a"])
            #expect(try await items("/v1/nodes", Node.self).isEmpty)
            #expect(try await items("/v1/runs", Run.self).map(\.id) == [runA])
            #expect(try await client.call(.get, "/v1/schedules", token: viewer).decode([Schedule].self).map(\.name) == ["sa"])
            for path in ["/v1/nodes?cluster=prod-b", "/v1/runs?cluster=prod-b", "/v1/reboots?cluster=prod-b", "/v1/auto-repairs?cluster=prod-b",
                         "/v1/reports/findings?cluster=prod-b", "/v1/reports/risk?cluster=prod-a&cluster=prod-b"] {
                #expect(try await client.call(.get, path, token: viewer).status == 403, "\(path)")
            }
            let report = try await client.call(.get, "/v1/reports/risk", token: viewer).decode(Report.self)
            #expect(report.clusters == ["prod-a"])
            #expect(try await client.call(.get, "/v1/reports/risk", token: h.viewer).decode(Report.self).clusters == nil)

            // Writes: an audit of "everything" is an audit of prod-a; no fleet-wide schedules.
            var reply = try await client.call(.post, "/v1/audits", token: op, json: #"{"all": true}"#)
            #expect(reply.status == 202, "\(String(decoding: reply.body, as: UTF8.self))")
            // prod-a has no nodes, so it is skipped; prod-b is not even mentioned.
            let started = try reply.decode(AuditsStarted.self)
            #expect(started.runs.isEmpty && started.skipped.count == 1 && started.skipped[0].contains("prod-a"), "\(started.skipped)")
            #expect(try await client.call(.post, "/v1/audits", token: op, json: #"{"clusters": ["prod-a", "prod-b"]}"#).status == 403)
            reply = try await client.call(.post, "/v1/schedules", token: op, json: #"{"name": "mine", "cron": "0 4 * * *", "all": true}"#)
            #expect(reply.status == 403 && reply.error?.message.contains("fleet-wide") == true)
            #expect(try await client.call(.patch, "/v1/schedules/fleet", token: op, json: #"{"paused": true}"#).status == 403)
            #expect(try await client.call(.post, "/v1/schedules", token: op, json: #"{"name": "mine", "cron": "0 4 * * *", "cluster": "prod-a"}"#).status == 201)

            // The dashboard shows the whole fleet: a limited token is told so.
            reply = try await client.call(.post, "/ui/login", token: nil, raw: "token=\(viewer)")
            #expect(reply.status == 403 && String(decoding: reply.body, as: UTF8.self).contains("reaches only cluster(s) prod-a; the dashboard shows the whole fleet"))
        }
    }
}
