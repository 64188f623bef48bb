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

    public func create(name: String, role: Role) async throws -> CreatedToken {
        _ = try Validate.name(name, field: "name")
        guard role != .node else { throw DomainError.invalid(field: "role", message: "node tokens are made by `caulk beacon install`, one per node") }
        let (record, secret) = try await insert(name: name, role: role, nodeId: nil)
        return CreatedToken(token: TokenInfo(record), secret: secret)
    }

    /// A token that may only announce the boots of one node. The node's earlier tokens stay
    /// valid until `settleNodeToken` says whether this one was installed.
    func createNodeToken(cluster: String, node: NodeRecord) async throws -> (id: Int64, secret: String) {
        let name = "node:\(cluster)/\(node.name)@\(Int(clock().timeIntervalSince1970 * 1000))"
        let (record, secret) = try await insert(name: name, role: .node, nodeId: node.id)
        return (record.id!, secret)
    }

    /// Installed: the node's other tokens are revoked. Not installed: this one is.
    func settleNodeToken(id: Int64, nodeId: Int64, installed: Bool) async throws {
        try await store.revokeNodeTokens(nodeId: nodeId, keep: id, onlyKeep: !installed, at: clock())
    }

    private func insert(name: String, role: Role, nodeId: Int64?) async throws -> (TokenRecord, secret: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let secret = Self.prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let record = TokenRecord(name: name, role: role, nodeId: nodeId, secretHash: Self.hash(secret), createdAt: clock())
        do {
            return (try await store.insert(record), secret)
        } catch where Store.isConstraintViolation(error) {
            throw DomainError.conflict("a token named \(name) already exists; revoke it first (`caulk tokens revoke \(name)`) or pick another name")
        }
    }

    /// The identity behind a presented secret, or nil when it is unknown or revoked.
    public func authenticate(_ secret: String) async throws -> (id: Int64, identity: Identity)? {
        guard secret.hasPrefix(Self.prefix), secret.utf8.count < 200 else { return nil }
        guard let record = try await store.activeToken(secretHash: Self.hash(secret)) else { return nil }
        let role = record.role
        try? await store.touchToken(id: record.id!, at: clock())
        var node: String?
        if let nodeId = record.nodeId {
            guard let path = try await store.nodePath(id: nodeId) else { return nil }
            node = path
        }
        return (record.id!, Identity(name: record.name, role: role, node: node))
    }

    public func list(includeRevoked: Bool = false, paging: Paging = Paging()) async throws -> Page<TokenInfo> {
        let records = try await store.tokens(includeRevoked: includeRevoked, after: paging.after, limit: paging.limit)
        return Page(items: records.map(TokenInfo.init), nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    /// A token by the name `caulk tokens list` shows; a node token's (`node:CLUSTER/NODE@…`) too.
    public func revoke(name: String) async throws -> TokenInfo {
        if name.hasPrefix("node:") {
            guard name.utf8.count <= 200 else { throw DomainError.invalid(field: "name", message: "is longer than any token name") }
        } else {
            _ = try Validate.name(name, field: "name")
        }
        switch try await store.revokeToken(named: name, at: clock()) {
        case .revoked(let record): return TokenInfo(record)
        case .notFound: throw DomainError.notFound("no active token named \(name)")
        case .lastAdmin:
            throw DomainError.conflict(
                "\(name) is the last active admin token; create another first (caulk tokens create NAME --role admin), then revoke this one")
        }
    }

    /// On a database that has never had a token, creates the first admin token.
    public func bootstrapIfEmpty(name: String = "admin") async throws -> CreatedToken? {
        guard try await store.tokenCount() == 0 else { return nil }
        return try await create(name: name, role: .admin)
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
