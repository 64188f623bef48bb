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
