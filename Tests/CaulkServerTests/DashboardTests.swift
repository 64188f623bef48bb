import CaulkAPI
@testable import CaulkDomain
import CaulkServer
import CaulkStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `/ui`: sign-in sets an HttpOnly, SameSite cookie; without one (or a bearer header) the page
/// sends the browser to sign in; the page lists the clusters and draws the charts.
@Suite struct DashboardTests {
    struct Page {
        let status: Int
        let headers: HTTPFields
        let text: String
    }

    func get(_ client: some TestClientProtocol, _ uri: String, cookie: String? = nil, bearer: String? = nil) async throws -> Page {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        return try await client.execute(uri: uri, method: .get, headers: headers) { Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
    }

    func signIn(_ client: some TestClientProtocol, form: String) async throws -> Page {
        try await client.execute(
            uri: "/ui/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: form)
        ) { Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
    }

    @Test func signInSetsAnHttpOnlyCookieAndThePageShowsTheFleet() async throws {
        let h = try await Harness()
        let revoked = try await h.services.tokens.create(TokenInput(name: "gone", role: .viewer), by: "test")
        try await h.application().test(.router) { client in
            _ = try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster)

            var page = try await get(client, "/ui")
            #expect(page.status == 303 && page.headers[.location] == "/ui/login")
            page = try await get(client, "/ui/login")
            #expect(page.status == 200 && page.text.contains("<form method=\"post\" action=\"/ui/login\">"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)

            page = try await signIn(client, form: "token=nope")
            #expect(page.status == 401 && page.headers[.setCookie] == nil && page.text.contains("unknown"))
            page = try await signIn(client, form: "other=1")
            #expect(page.status == 400)
            // Form encoding: the token's characters arrive as typed.
            page = try await signIn(client, form: "token=" + h.viewer.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            #expect(page.status == 303 && page.headers[.location] == "/ui")
            let cookie = try #require(page.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"))
            let pair = String(cookie.prefix { $0 != ";" })

            page = try await get(client, "/ui", cookie: pair)
            #expect(page.status == 200 && page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("prod-a") && page.text.contains("dash (viewer)"))
            #expect(page.text.components(separatedBy: "<svg").count - 1 == 4, "four charts")
            #expect(page.text.contains("never"), "a cluster never audited says so")
            #expect(!page.text.contains("<script"))

            // The API's bearer header works too; a token that may not read does not.
            #expect(try await get(client, "/ui", bearer: h.op).status == 200)
            _ = try await h.services.tokens.revoke(name: revoked.token.name, by: "test")
            #expect(try await get(client, "/ui", cookie: "caulk_token=\(revoked.secret)").status == 303)
            page = try await client.execute(uri: "/ui/logout", method: .post) { Page(status: Int($0.status.code), headers: $0.headers, text: "") }
            #expect(page.status == 303 && page.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test func weeksAreMondaysUpToTheCurrentWeek() {
        // Sunday 2026-11-29 belongs to the week of Monday 2026-11-23.
        let sunday = Date(timeIntervalSince1970: 1_795_900_000)
        #expect(DashboardService.mondays(endingAt: sunday, count: 3) == ["2026-11-09", "2026-11-16", "2026-11-23"])
    }
}
