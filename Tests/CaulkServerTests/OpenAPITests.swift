import CaulkDomain
@testable import CaulkServer
import CaulkStore
import Foundation
import Hummingbird
import Testing
import Yams

/// The OpenAPI document in config/openapi.yaml must describe exactly the routes the router serves.
@Suite struct OpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let router = buildRouter(try Services(store: try Store.inMemory()))
        // `/ui` is the dashboard's HTML, not the API.
        let served = Set(router.routes.filter { !$0.path.description.hasPrefix("/ui") }.map { route in
            let path = route.path.description
                .split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                .joined(separator: "/")
            return "\(route.method.rawValue.lowercased()) /\(path)"
        })
        let text = try String(contentsOf: Self.packageRoot.appending(path: "config/openapi.yaml"), encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "post", "put", "patch", "delete"]
        let documented = Set(paths.flatMap { path, operations in
            operations.keys.filter(methods.contains).map { "\($0) \(path)" }
        })
        #expect(served.subtracting(documented).sorted() == [], "routes missing from config/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "documented routes the server does not have")
        #expect(served.count >= 15)
    }

    /// Every operation behind a token can answer 401 and 403, and every one that reads a body or
    /// a query string can answer 400.
    @Test func everyOperationDeclaresTheErrorsItCanAnswer() throws {
        let document = try Self.document()
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let shared = (document["components"] as? [String: Any])?["parameters"] as? [String: [String: Any]] ?? [:]
        func resolved(_ parameter: [String: Any]) -> [String: Any] {
            guard let ref = parameter["$ref"] as? String else { return parameter }
            return shared[String(ref.split(separator: "/").last ?? "")] ?? [:]
        }
        let methods: Set<String> = ["get", "post", "put", "patch", "delete"]
        var missing: [String] = []
        for (path, item) in paths {
            for (method, value) in item where methods.contains(method) {
                let operation = try #require(value as? [String: Any])
                let statuses = Set((operation["responses"] as? [String: Any] ?? [:]).keys)
                let secured = (operation["security"] as? [Any])?.isEmpty != true
                let parameters = (operation["parameters"] as? [[String: Any]] ?? []) + (item["parameters"] as? [[String: Any]] ?? [])
                let readsInput = operation["requestBody"] != nil || parameters.contains { resolved($0)["in"] as? String == "query" }
                for (status, needed) in [("401", secured), ("403", secured), ("400", readsInput)] where needed && !statuses.contains(status) {
                    missing.append("\(method) \(path): \(status)")
                }
            }
        }
        #expect(missing.sorted() == [])
    }

    /// The document's cursor pattern is the one the server checks cursors against.
    @Test func cursorPatternIsTheServers() throws {
        let document = try Self.document()
        let cursor = try #require((document["components"] as? [String: Any])?["parameters"] as? [String: Any])["cursor"] as? [String: Any]
        #expect((cursor?["schema"] as? [String: Any])?["pattern"] as? String == Request.cursorPattern)
    }

    /// The document's webhook URL pattern is the one the server checks URLs against.
    @Test func webhookURLPatternIsTheServers() throws {
        let schemas = try #require((try Self.document()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let properties = (schemas["WebhookInput"] as? [String: Any])?["properties"] as? [String: Any]
        #expect((properties?["url"] as? [String: Any])?["pattern"] as? String == NotificationService.urlPattern)
    }

    static func document() throws -> [String: Any] {
        let text = try String(contentsOf: packageRoot.appending(path: "config/openapi.yaml"), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
