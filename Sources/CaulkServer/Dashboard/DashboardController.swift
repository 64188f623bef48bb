import CaulkAPI
import CaulkDomain
import Foundation
import HTTPTypes
import Hummingbird

/// `/ui`: the read-only fleet dashboard. Signed in with an API token (viewer or above) that
/// `POST /ui/login` keeps in an HttpOnly, SameSite=Strict cookie; a bearer header works too.
struct DashboardController {
    static let cookie = "caulk_token"
    let tokens: TokenService
    let dashboard: DashboardService
    /// Served over HTTPS: the cookie is marked Secure.
    var secureCookies = false

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("ui") { request, _ in
            guard let identity = try await identity(of: request) else { return Self.redirect(to: "/ui/login") }
            return Self.html(DashboardPage.dashboard(try await dashboard.dashboard(), identity: identity))
        }
        router.get("ui/login") { _, _ in Self.html(DashboardPage.login()) }
        router.post("ui/login") { request, context in
            let body = try await request.body.collect(upTo: 8192)
            guard let token = Self.formField("token", in: String(buffer: body)), !token.isEmpty else {
                return Self.html(DashboardPage.login(error: "Paste a token to sign in."), status: .badRequest)
            }
            let identity: Identity
            switch try await tokens.authenticate(token) {
            case .valid(_, let valid) where valid.role >= .viewer && valid.clusters == nil: identity = valid
            case .valid(_, let valid) where valid.clusters != nil:
                return Self.html(DashboardPage.login(error: Self.limited(valid)), status: .forbidden)
            case .expired(let name, let at): return Self.html(DashboardPage.login(error: AuthMiddleware.expired(name, at) + "."), status: .unauthorized)
            default: return Self.html(DashboardPage.login(error: "That token is unknown, revoked, or may not read."), status: .unauthorized)
            }
            var response = Self.redirect(to: "/ui")
            response.headers[.setCookie] = "\(Self.cookie)=\(token); Path=/ui; Max-Age=43200; HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
            context.logger.info("dashboard sign-in by \(identity.name)")
            return response
        }
        router.post("ui/logout") { _, _ in
            var response = Self.redirect(to: "/ui/login")
            response.headers[.setCookie] = "\(Self.cookie)=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
            return response
        }
    }

    /// The caller from the cookie, or else a bearer header; nil when neither names a token that may read.
    func identity(of request: Request) async throws -> Identity? {
        guard let secret = try request.cookies[Self.cookie]?.value ?? AuthMiddleware.bearer(request), !secret.isEmpty,
            let identity = try await tokens.authenticate(secret).identity, identity.role >= .viewer, identity.clusters == nil
        else { return nil }
        return identity
    }

    /// The dashboard shows the whole fleet, which a token limited to some clusters may not read;
    /// in the words the API uses for it.
    static func limited(_ identity: Identity) -> String {
        AppRequestContext.limitation(identity, "the dashboard shows the whole fleet; use caulk health and caulk report with this token")
    }

    /// A field of an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // No script, nothing from elsewhere, never in a frame.
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}
