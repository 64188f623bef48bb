import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/tokens` (admins) and `/v1/whoami` (anyone with a token).
struct TokensController {
    let tokens: TokenService

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("whoami") { _, context in
            try JSON.response(try context.require(.viewer))
        }
        group.get("tokens") { request, context in
            _ = try context.require(.admin)
            return try JSON.response(try await tokens.list(includeRevoked: try request.flag("include_revoked"), paging: try request.paging()))
        }
        group.post("tokens") { request, context in
            let identity = try context.require(.admin)
            let input = try await JSON.decode(TokenInput.self, from: request, allowedKeys: ["": ["name", "role", "exec", "ttl_seconds", "clusters"]])
            return try JSON.response(try await tokens.create(input, by: identity.name), status: .created)
        }
        group.delete("tokens/:name") { _, context in
            let identity = try context.require(.admin)
            // A node token's name (`node:CLUSTER/NODE@…`) arrives percent-encoded; the router does not decode.
            let name = try context.parameters.require("name")
            return try JSON.response(try await tokens.revoke(name: name.removingPercentEncoding ?? name, by: identity.name))
        }
    }
}
