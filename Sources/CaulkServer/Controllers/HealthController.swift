import CaulkStore
import Hummingbird
import NIOCore

/// Unauthenticated probes and the API description.
struct HealthController {
    let store: Store

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("healthz") { _, _ in
            try JSON.response(["status": "ok"])
        }
        router.get("readyz") { _, _ in
            let applied: [String]
            do {
                applied = try await store.appliedMigrations()
            } catch {
                throw APIError.unavailable("database \(store.path) is not readable: \(error)")
            }
            guard applied == Store.knownMigrations else {
                throw APIError.unavailable("database schema is not at this version's migrations")
            }
            return try JSON.response(["status": "ready", "schema": applied.last ?? ""])
        }
        router.get("v1/openapi.yaml") { _, _ in
            let document = Embedded.files.first { $0.name == "openapi.yaml" }!.contents
            return Response(
                status: .ok,
                headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: document))
            )
        }
    }
}
