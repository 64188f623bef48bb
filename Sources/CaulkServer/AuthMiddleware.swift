import CaulkAPI
import CaulkDomain
import Foundation
import Hummingbird

/// Resolves `Authorization: Bearer <token>` to an identity; routes then check the role they need.
/// Logs each `/v1` request once it is answered, with who asked (`caller`) and the status.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let line = "\(request.method) \(request.uri.path)"
        let identity: Identity
        do {
            guard let secret = try Self.bearer(request) else { throw APIError.unauthorized("no bearer token") }
            switch try await tokens.authenticate(secret) {
            case .valid(_, let valid): identity = valid
            case .expired(let name, let at): throw APIError.unauthorized(Self.expired(name, at))
            case .refused: throw APIError.unauthorized("token is unknown or revoked")
            }
        } catch {
            let detail = ErrorMiddleware<Context>.detail(for: error)
            context.logger.notice("\(line) \(detail.status): \(detail.message)")
            throw error
        }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "caller"] = .string(identity.name)
        do {
            let response = try await next(request, context)
            context.logger.info("\(line) \(response.status.code)")
            return response
        } catch {
            context.logger.info("\(line) \(ErrorMiddleware<Context>.detail(for: error).status)")
            throw error
        }
    }

    /// The secret of an `Authorization: Bearer` header; nil without the header.
    static func bearer(_ request: Request) throws(APIError) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthorized("the Authorization header is not `Bearer <token>`")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func expired(_ name: String, _ date: Date) -> String {
        "token \(name) expired at \(date.formatted(.iso8601)); ask an admin for a new one (caulk tokens create NAME --ttl …)"
    }
}
