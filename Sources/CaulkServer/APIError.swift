import CaulkAPI
import CaulkDomain
import HTTPTypes
import Hummingbird

/// Errors that only exist at the HTTP layer. Domain errors are mapped next to these, in
/// `ErrorMiddleware`, so every status decision lives in one file.
public enum APIError: Error, Equatable {
    case unauthorized(String)
    case forbidden(String)
    case badRequest(field: String?, message: String)
    /// The path is served, but not with this method; `allowed` are the methods it is served with.
    case methodNotAllowed(method: String, path: String, allowed: [String])
    case unavailable(String)
}

/// Turns every error thrown below it, including the router's own 404, into the one JSON error shape.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let detail = Self.detail(for: error)
            if detail.status >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error))")
            }
            var response = try JSON.response(APIErrorBody(detail), status: HTTPResponse.Status(code: detail.status))
            if detail.status == 401 { response.headers[.wwwAuthenticate] = "Bearer realm=\"caulk\"" }
            if case APIError.methodNotAllowed(_, _, let allowed) = error { response.headers[.allow] = allowed.joined(separator: ", ") }
            return response
        }
    }

    static func detail(for error: any Error) -> APIErrorBody.Detail {
        switch error {
        case let error as DomainError:
            switch error {
            case .invalid(let field, let message):
                return .init(status: 400, code: "invalid", message: "\(field): \(message)", field: field)
            case .invalidInventory(_, let field, _):
                return .init(status: 400, code: "invalid", message: error.description, field: field)
            case .invalidPlaybook(_, _, let field, _):
                return .init(status: 422, code: "invalid_playbook", message: error.description, field: field)
            case .notFound(let message):
                return .init(status: 404, code: "not_found", message: message)
            case .conflict(let message):
                return .init(status: 409, code: "conflict", message: message)
            }
        case let error as APIError:
            switch error {
            case .unauthorized(let message):
                return .init(status: 401, code: "unauthorized", message: message + "; send `Authorization: Bearer <token>` (caulk reads CAULK_TOKEN)")
            case .forbidden(let message):
                return .init(status: 403, code: "forbidden", message: message)
            case .badRequest(let field, let message):
                return .init(status: 400, code: "invalid", message: field.map { "\($0): \(message)" } ?? message, field: field)
            case .methodNotAllowed(let method, let path, let allowed):
                return .init(status: 405, code: "method_not_allowed", message: "\(path) does not take \(method); it takes \(allowed.joined(separator: ", "))")
            case .unavailable(let message):
                return .init(status: 503, code: "unavailable", message: message)
            }
        case let error as HTTPError:
            let status = Int(error.status.code)
            let code = status == 404 ? "not_found" : status == 405 ? "method_not_allowed" : status == 413 ? "too_large" : status < 500 ? "invalid" : "internal"
            let message = error.body ?? (status == 404 ? "no such route; see /v1/openapi.yaml" : error.status.reasonPhrase)
            return .init(status: status, code: code, message: message)
        default:
            return .init(status: 500, code: "internal", message: "internal error; the server log has the details")
        }
    }
}
