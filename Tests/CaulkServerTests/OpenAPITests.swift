import CaulkDomain
import CaulkServer
import CaulkStore
import Foundation
import Testing
import Yams

/// The OpenAPI document in config/openapi.yaml must describe exactly the routes the router serves.
@Suite struct OpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let router = buildRouter(try Services(store: try Store.inMemory()))
        let served = Set(router.routes.map { route in
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

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
