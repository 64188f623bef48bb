import HTTPTypes
import Hummingbird

/// Answers 405 with an `Allow` header when no route matches the request but its path is served
/// with other methods (`PUT /v1/clusters`), instead of the router's 404.
///
/// Add it after every route: middleware only wraps the routes added after it, so here it wraps
/// nothing but the router's not-found responder.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each served path with one of its methods.
    let routes: [(path: RouterPath, method: HTTPRequest.Method)]

    init(routes: [Router<Context>.RouteDescription]) {
        self.routes = routes.map { (path: $0.path, method: $0.method) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let allowed = allowedMethods(for: request.uri.path)
        guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else {
            return try await next(request, context)
        }
        throw APIError.methodNotAllowed(method: request.method.rawValue, path: request.uri.path, allowed: allowed)
    }

    /// The methods of every route whose path matches, segment by segment as the router matches.
    func allowedMethods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = routes.filter { route in
            route.path.components.count == segments.count
                && zip(route.path.components, segments).allSatisfy { element, segment in element ~= segment }
        }
        return Set(matching.map(\.method.rawValue)).sorted()
    }
}
