import CaulkAPI
import CaulkStore
import Crypto
import Foundation

/// Bearer tokens: `caulk_` and 43 base64url characters (256 random bits). Only the SHA-256 of a
/// secret is stored, so a leaked database does not leak working tokens.
public struct TokenService: Sendable {
    let store: Store
    let clock: @Sendable () -> Date

    public init(store: Store, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.clock = clock
    }

    static let prefix = "caulk_"

    /// Shortest and longest lifetime a token may be given.
    public static let ttlRange = 60...(3650 * 86400)

    /// `exec`: may run any command on nodes; only an operator is granted it (admins have it).
    /// `ttl`: seconds until it expires, nil for never.
    public func create(_ input: TokenInput, by actor: String) async throws -> CreatedToken {
        _ = try Validate.name(input.name, field: "name")
        guard input.role != .node else { throw DomainError.invalid(field: "role", message: "node tokens are made by `caulk beacon install`, one per node") }
        let exec = input.exec ?? false
        if exec, input.role != .operator {
            throw DomainError.invalid(
                field: "exec", message: input.role == .admin ? "admin tokens may always exec; leave it out" : "only an operator token can be granted exec")
        }
        let clusters = try await scope(input)
        if let ttl = input.ttlSeconds, !Self.ttlRange.contains(ttl) {
            throw DomainError.invalid(field: "ttl_seconds", message: "must be between 60 (a minute) and \(Self.ttlRange.upperBound) (ten years); leave it out for a token that does not expire")
        }
        let now = clock()
        let activity = ActivityLog(store: store, clock: clock)
        let (record, secret) = try await insert(
            name: input.name, role: input.role, nodeId: nil, exec: exec, clusters: clusters,
            expiresAt: input.ttlSeconds.map { now.addingTimeInterval(TimeInterval($0)) }
        ) { token in
            activity.entry(actor, .tokenCreate, cluster: nil, target: token.name, after: ActivityLog.fields(TokenInfo(token), leaving: ["name", "created_at"]))
        }
        return CreatedToken(token: TokenInfo(record), secret: secret)
    }

    /// A token that may only announce the boots of one node. The node's earlier tokens stay
    /// valid until `settleNodeToken` says whether this one was installed.
    func createNodeToken(cluster: String, node: NodeRecord) async throws -> (id: Int64, secret: String) {
        let name = "node:\(cluster)/\(node.name)@\(Int(clock().timeIntervalSince1970 * 1000))"
        let (record, secret) = try await insert(name: name, role: .node, nodeId: node.id, exec: false, clusters: nil, expiresAt: nil, activity: nil)
        return (record.id!, secret)
    }

    /// Installed: the node's other tokens are revoked. Not installed: this one is.
    func settleNodeToken(id: Int64, nodeId: Int64, installed: Bool) async throws {
        try await store.revokeNodeTokens(nodeId: nodeId, keep: id, onlyKeep: !installed, at: clock())
    }

    private func insert(
        name: String, role: Role, nodeId: Int64?, exec: Bool, clusters: [String]?, expiresAt: Date?, activity: (@Sendable (TokenRecord) -> ActivityRecord)?
    ) async throws -> (TokenRecord, secret: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let secret = Self.prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let record = TokenRecord(
            name: name, role: role, nodeId: nodeId, secretHash: Self.hash(secret), exec: exec, clusters: clusters, createdAt: clock(), expiresAt: expiresAt)
        do {
            return (try await store.insert(record, activity: activity), secret)
        } catch where Store.isConstraintViolation(error) {
            throw DomainError.conflict("a token named \(name) already exists; revoke it first (`caulk tokens revoke \(name)`) or pick another name")
        }
    }

    /// The clusters a new token is limited to: existing clusters, each once; nil for every cluster.
    private func scope(_ input: TokenInput) async throws -> [String]? {
        guard let names = input.clusters else { return nil }
        guard input.role == .viewer || input.role == .operator else {
            throw DomainError.invalid(field: "clusters", message: "an admin token reaches every cluster; limit a viewer or operator token instead")
        }
        guard !names.isEmpty, names.count <= 100 else { throw DomainError.invalid(field: "clusters", message: "give 1 to 100 cluster names, or leave it out for every cluster") }
        var clusters: [String] = []
        for name in names where !clusters.contains(name) {
            _ = try Validate.name(name, field: "clusters")
            guard try await store.cluster(named: name) != nil else { throw DomainError.notFound("no cluster named \(name) (clusters: the token's clusters must exist)") }
            clusters.append(name)
        }
        return clusters
    }

    public enum Authentication: Sendable, Equatable {
        case valid(id: Int64, identity: Identity)
        /// Known and not revoked, but past its expiry: the caller is told so.
        case expired(name: String, at: Date)
        /// Unknown or revoked (or a node token whose node is gone).
        case refused

        public var identity: Identity? {
            if case .valid(_, let identity) = self { identity } else { nil }
        }
    }

    /// Who a presented secret belongs to, if it still works.
    public func authenticate(_ secret: String) async throws -> Authentication {
        guard secret.hasPrefix(Self.prefix), secret.utf8.count < 200 else { return .refused }
        guard let record = try await store.activeToken(secretHash: Self.hash(secret)) else { return .refused }
        let now = clock()
        if let expiry = record.expiresAt, expiry <= now { return .expired(name: record.name, at: expiry) }
        try? await store.touchToken(id: record.id!, at: now)
        var node: String?
        if let nodeId = record.nodeId {
            guard let path = try await store.nodePath(id: nodeId) else { return .refused }
            node = path
        }
        return .valid(id: record.id!, identity: Identity(
            name: record.name, role: record.role, node: node, exec: record.mayExec, clusters: record.clusterNames, expiresAt: record.expiresAt))
    }

    public func list(includeRevoked: Bool = false, paging: Paging = Paging()) async throws -> Page<TokenInfo> {
        let records = try await store.tokens(includeRevoked: includeRevoked, after: paging.after, limit: paging.limit)
        return Page(items: records.map(TokenInfo.init), nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    /// A token by the name `caulk tokens list` shows; a node token's (`node:CLUSTER/NODE@…`) too.
    public func revoke(name: String, by actor: String) async throws -> TokenInfo {
        if name.hasPrefix("node:") {
            guard name.utf8.count <= 200 else { throw DomainError.invalid(field: "name", message: "is longer than any token name") }
        } else {
            _ = try Validate.name(name, field: "name")
        }
        let activity = ActivityLog(store: store, clock: clock)
        let revocation = try await store.revokeToken(named: name, at: clock()) { token in
            activity.entry(actor, .tokenRevoke, cluster: nil, target: token.name, before: ActivityLog.fields(TokenInfo(token), leaving: ["name", "created_at", "revoked_at"]))
        }
        switch revocation {
        case .revoked(let record): return TokenInfo(record)
        case .notFound: throw DomainError.notFound("no active token named \(name)")
        case .lastAdmin:
            throw DomainError.conflict(
                "\(name) is the last admin token that still works; create another first (caulk tokens create NAME --role admin), then revoke this one")
        }
    }

    /// On a database that has never had a token, creates the first admin token.
    public func bootstrapIfEmpty(name: String = "admin") async throws -> CreatedToken? {
        guard try await store.tokenCount() == 0 else { return nil }
        return try await create(TokenInput(name: name, role: .admin), by: "caulk")
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
