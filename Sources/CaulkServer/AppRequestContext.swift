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

    /// The caller at `role`, required to reach `cluster` too.
    func require(_ role: Role, cluster: String) throws(APIError) -> Identity {
        let identity = try require(role)
        try Self.check(identity, reaches: cluster)
        return identity
    }

    /// The caller at `role`, required to reach every one of `clusters`.
    func require(_ role: Role, clusters: [String]) throws(APIError) -> Identity {
        let identity = try require(role)
        for cluster in clusters { try Self.check(identity, reaches: cluster) }
        return identity
    }

    /// The caller at `role`, required to reach the cluster `cluster` finds (a run's, a
    /// schedule's): looked up only for a token limited to some clusters, since the others reach
    /// every one.
    func require(_ role: Role, clusterOf cluster: () async throws -> String) async throws -> Identity {
        let identity = try require(role)
        if identity.clusters != nil { try Self.check(identity, reaches: try await cluster()) }
        return identity
    }

    static func check(_ identity: Identity, reaches cluster: String) throws(APIError) {
        guard let clusters = identity.clusters, !clusters.contains(cluster) else { return }
        throw limited(identity, "not \(cluster)")
    }

    /// A limited token refused: what it reaches, then `why` not this.
    static func limited(_ identity: Identity, _ why: String) -> APIError {
        .forbidden(limitation(identity, why))
    }

    /// The words of that refusal (the dashboard's sign-in page shows them too).
    static func limitation(_ identity: Identity, _ why: String) -> String {
        "token \(identity.name) reaches only cluster(s) \((identity.clusters ?? []).joined(separator: ", ")); \(why)"
    }

    /// What a list may show the caller: nil, every cluster; else the clusters its token is limited to.
    var within: [String]? { identity?.clusters }

    /// The caller, required to be an operator granted `exec` (or an admin) who reaches `cluster`:
    /// running any command on nodes is more than audits and repairs need.
    func requireExec(cluster: String) throws(APIError) -> Identity {
        let identity = try require(.operator, cluster: cluster)
        guard identity.exec else {
            throw .forbidden(
                "token \(identity.name) may run audits and repairs but not commands on nodes; exec needs a token created with --exec (caulk tokens create NAME --role operator --exec)")
        }
        return identity
    }
}
