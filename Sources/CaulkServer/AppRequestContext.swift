import CaulkAPI
import Hummingbird

/// Per-request context: who is calling, once the auth middleware has looked.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// Inventory files can be large; JSON bodies are read with their own smaller cap.
    public var maxUploadSize: Int { 32 * 1024 * 1024 }

    /// The caller's identity, required to hold at least `role`.
    func require(_ role: Role) throws(APIError) -> Identity {
        guard let identity else { throw .unauthorized("no bearer token") }
        guard identity.role >= role else {
            throw .forbidden("token \(identity.name) has role \(identity.role.rawValue); this needs \(role.rawValue)")
        }
        return identity
    }
}
