import CaulkAPI
import Foundation
import HummingbirdTesting
import Testing

@Suite struct APITests {
    static let cluster = #"{"name": "prod-a", "api_endpoint": "https://198.18.1.1:6443", "pod_cidr": "198.19.0.0/16", "ssh": {"user": "root", "key": "/etc/caulk/id_ed25519"}}"#

    @Test func crudRoundTrip() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            var reply = try await client.call(.post, "/v1/clusters", token: h.admin, json: Self.cluster)
            #expect(reply.status == 201)
            #expect(try reply.decode(Cluster.self).name == "prod-a")

            reply = try await client.call(.post, "/v1/nodes", token: h.admin, json: #"{"cluster": "prod-a", "name": "cp1", "address": "198.18.1.1", "role": "control-plane", "labels": {"zone": "a"}}"#)
            #expect(reply.status == 201)

            reply = try await client.call(.get, "/v1/nodes?cluster=prod-a&role=control-plane&label=zone%3Da", token: h.viewer)
            #expect(reply.status == 200)
            #expect(try reply.decode(Page<Node>.self).items.map(\.name) == ["cp1"])

            reply = try await client.call(.patch, "/v1/nodes/prod-a/cp1", token: h.admin, json: #"{"address": "198.18.1.9"}"#)
            #expect(try reply.decode(Node.self).address == "198.18.1.9")

            reply = try await client.call(.get, "/v1/clusters/prod-a", token: h.viewer)
            #expect(try reply.decode(Cluster.self).nodeCount == 1)

            reply = try await client.call(.delete, "/v1/clusters/prod-a", token: h.admin)
            #expect(reply.status == 409)
            reply = try await client.call(.delete, "/v1/nodes/prod-a/cp1", token: h.admin)
            #expect(reply.status == 204)
            reply = try await client.call(.delete, "/v1/clusters/prod-a", token: h.admin)
            #expect(reply.status == 204)
            reply = try await client.call(.get, "/v1/clusters/prod-a", token: h.viewer)
            #expect(reply.status == 404)
            #expect(reply.error?.code == "not_found")
        }
    }

    @Test func authenticationAndRoles() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            var reply = try await client.call(.get, "/v1/clusters", token: nil)
            #expect(reply.status == 401)
            #expect(reply.error?.code == "unauthorized")
            reply = try await client.call(.get, "/v1/clusters", token: "caulk_not-a-real-token")
            #expect(reply.status == 401)
            reply = try await client.call(.post, "/v1/clusters", token: h.viewer, json: Self.cluster)
            #expect(reply.status == 403)
            #expect(reply.error?.message.contains("needs admin") == true)
            reply = try await client.call(.post, "/v1/clusters", token: h.op, json: Self.cluster)
            #expect(reply.status == 403)
            reply = try await client.call(.get, "/v1/tokens", token: h.viewer)
            #expect(reply.status == 403)
            reply = try await client.call(.get, "/v1/whoami", token: h.op)
            #expect(try reply.decode(Identity.self) == Identity(name: "ops", role: .operator))

            // revoking works at once
            reply = try await client.call(.delete, "/v1/tokens/dash", token: h.admin)
            #expect(reply.status == 200)
            reply = try await client.call(.get, "/v1/clusters", token: h.viewer)
            #expect(reply.status == 401)
        }
    }

    @Test func badInputIs400NamingTheField() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            let long = String(repeating: "x", count: 300)
            for (body, field) in [
                (#"{"name": "a;rm -rf /", "api_endpoint": "https://198.18.1.1:6443"}"#, "name"),
                (#"{"name": "\#(long)", "api_endpoint": "https://198.18.1.1:6443"}"#, "name"),
                (#"{"name": "ok", "api_endpoint": "https://198.18.1.1:6443", "encapsualtion": "vxlan"}"#, "encapsualtion"),
                (#"{"name": "ok", "api_endpoint": "https://198.18.1.1:6443", "ssh": {"port": 0}}"#, "ssh.port"),
                (#"{"name": "ok", "api_endpoint": "https://198.18.1.1:6443", "ssh": {"port": "22"}}"#, "ssh.port"),
                (#"{"name": "ok", "api_endpoint": "https://198.18.1.1:6443", "encapsulation": "gre"}"#, "encapsulation"),
                (#"{"name": "ok"}"#, "api_endpoint"),
            ] {
                let reply = try await client.call(.post, "/v1/clusters", token: h.admin, json: body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.error?.field == field, "\(body): \(String(describing: reply.error))")
            }
            var reply = try await client.call(.post, "/v1/clusters", token: h.admin, json: "not json")
            #expect(reply.status == 400)
            reply = try await client.call(.get, "/v1/nodes?role=boss", token: h.viewer)
            #expect(reply.error?.field == "role")
            reply = try await client.call(.get, "/v1/nodes?limit=0", token: h.viewer)
            #expect(reply.error?.field == "limit")
            reply = try await client.call(.get, "/v1/nodes?cursor=zzz", token: h.viewer)
            #expect(reply.error?.field == "cursor")
            reply = try await client.call(.get, "/v1/clusters/\(long)", token: h.viewer)
            #expect(reply.status == 400)
        }
    }

    @Test func conflictsAndUnknownRoutes() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            _ = try await client.call(.post, "/v1/clusters", token: h.admin, json: Self.cluster)
            var reply = try await client.call(.post, "/v1/clusters", token: h.admin, json: Self.cluster)
            #expect(reply.status == 409)
            #expect(reply.error?.code == "conflict")
            reply = try await client.call(.post, "/v1/tokens", token: h.admin, json: #"{"name": "ops", "role": "viewer"}"#)
            #expect(reply.status == 409)
            reply = try await client.call(.get, "/v2/anything", token: h.admin)
            #expect(reply.status == 404)
            #expect(reply.error?.code == "not_found")
            reply = try await client.call(.get, "/v1/no-such-thing", token: h.admin)
            #expect(reply.status == 404)
        }
    }

    @Test func inventoryImportIsAllOrNothing() async throws {
        let h = try await Harness()
        let file = """
            clusters:
              - name: lab
                api_endpoint: https://198.18.1.1:6443
                nodes:
                  - {name: n1, address: 198.18.1.1, role: control-plane}
                  - {name: n2, address: 198.18.1.2}
            """
        try await h.application().test(.router) { client in
            var reply = try await client.call(.post, "/v1/inventory/import", token: h.admin, raw: file)
            #expect(reply.status == 200)
            #expect(try reply.decode(ImportResult.self).nodes.created == 2)
            reply = try await client.call(.post, "/v1/inventory/import", token: h.admin, raw: file)
            #expect(try reply.decode(ImportResult.self).message.hasPrefix("no changes"))
            let broken = file.replacingOccurrences(of: "198.18.1.2", with: "198.18.1.300") + "\n  - {name: more, api_endpoint: https://198.18.2.1:6443}\n"
            reply = try await client.call(.post, "/v1/inventory/import", token: h.admin, raw: broken)
            #expect(reply.status == 400)
            #expect(reply.error?.message.contains("line 6") == true)
            reply = try await client.call(.get, "/v1/clusters", token: h.admin)
            #expect(try reply.decode(Page<Cluster>.self).items.map(\.name) == ["lab"])
            reply = try await client.call(.post, "/v1/inventory/import?format=ansible-ini", token: h.viewer, raw: "[a]\nb\n")
            #expect(reply.status == 403)
        }
    }

    @Test func probesAnswerWithoutAToken() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.get, "/healthz", token: nil).status == 200)
            #expect(try await client.call(.get, "/readyz", token: nil).status == 200)
            let spec = try await client.call(.get, "/v1/openapi.yaml", token: nil)
            #expect(spec.status == 200)
            #expect(String(decoding: spec.body, as: UTF8.self).hasPrefix("openapi: 3.1"))
        }
    }

    @Test func liveOverARealSocket() async throws {
        let h = try await Harness()
        try await h.application().test(.live) { client in
            let reply = try await client.call(.post, "/v1/clusters", token: h.admin, json: Self.cluster)
            #expect(reply.status == 201)
            let list = try await client.call(.get, "/v1/clusters", token: h.viewer)
            #expect(try list.decode(Page<Cluster>.self).items.count == 1)
            #expect(try await client.call(.get, "/v1/clusters", token: nil).status == 401)
        }
    }
}
