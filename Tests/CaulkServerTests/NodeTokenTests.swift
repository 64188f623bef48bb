import CaulkAPI
import CaulkStore
import Foundation
import HummingbirdTesting
import Testing

@testable import CaulkDomain

/// Node tokens (the boot beacon's) are revoked by the name `tokens list` shows, or per node.
@Suite struct NodeTokenTests {
    @Test func nodeTokensAreRevokedByNameOrPerNodeAndThenRefused() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster).status == 201)
            for (index, name) in ["n1", "n2", "n3"].enumerated() {
                let body = #"{"cluster": "prod-a", "name": "\#(name)", "address": "198.18.1.\#(index + 10)"}"#
                #expect(try await client.call(.post, "/v1/nodes", token: h.admin, json: body).status == 201)
            }
            let nodes = try await h.services.store.nodes(NodeFilter(), limit: 10).map(\.node)
            var secrets: [String: String] = [:]
            var names: [String: String] = [:]
            for node in nodes {
                let token = try await h.services.tokens.createNodeToken(cluster: "prod-a", node: node)
                try await h.services.tokens.settleNodeToken(id: token.id, nodeId: node.id!, installed: true)
                secrets[node.name] = token.secret
                names[node.name] = try await h.services.store.tokens(includeRevoked: false, after: nil, limit: 100).first { $0.id == token.id }!.name
            }
            let boot = #"{"boot_id": "0b3c8a6e-4d7e-4c55-9a39-7d2f1f0e2a11", "uptime_seconds": 12}"#
            #expect(try await client.call(.post, "/v1/nodes/prod-a/n1/boot", token: secrets["n1"], json: boot).status == 201)

            // By the listed name, percent-encoded as the CLI sends it.
            let encoded = names["n1"]!.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!
            var reply = try await client.call(.delete, "/v1/tokens/\(encoded)", token: h.admin)
            #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
            #expect(try await client.call(.post, "/v1/nodes/prod-a/n1/boot", token: secrets["n1"], json: boot).status == 401)

            // Per node, and a node that matches nothing is named.
            reply = try await client.call(.delete, "/v1/clusters/prod-a/beacon?node=n2", token: h.admin)
            #expect(try reply.decode(Page<TokenInfo>.self).items.map(\.name) == [names["n2"]!])
            #expect(try await client.call(.post, "/v1/nodes/prod-a/n2/boot", token: secrets["n2"], json: boot).status == 401)
            #expect(try await client.call(.post, "/v1/nodes/prod-a/n3/boot", token: secrets["n3"], json: boot).status != 401)
            reply = try await client.call(.delete, "/v1/clusters/prod-a/beacon?node=n9", token: h.admin)
            #expect(reply.status == 400 && reply.error?.message.contains("no node n9") == true)
            #expect(try await client.call(.delete, "/v1/clusters/prod-a/beacon", token: h.op).status == 403)
            reply = try await client.call(.delete, "/v1/clusters/prod-a/beacon", token: h.admin)
            #expect(try reply.decode(Page<TokenInfo>.self).items.map(\.name) == [names["n3"]!])
        }
    }
}
