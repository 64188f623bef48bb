import CaulkAPI
import CaulkDomain
import Hummingbird

/// Resolves `Authorization: Bearer <token>` to an identity; routes then check the role they need.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("no bearer token")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header is not `Bearer <token>`")
        }
        guard let (_, identity) = try await tokens.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw APIError.unauthorized("token is unknown or revoked")
        }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "caller"] = .string(identity.name)
        return try await next(request, context)
    }
}
