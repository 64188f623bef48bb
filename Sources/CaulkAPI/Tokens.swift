import Foundation

/// What a bearer token may do. Each role includes the ones before it.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Belongs to one node and may only announce that node's boots (the boot beacon). Below
    /// `viewer`: it reads nothing.
    case node
    /// Read anything.
    case viewer
    /// Read, and run audits and repairs. Running any command on nodes (`exec`) is a right of its
    /// own, granted per token.
    case `operator`
    /// Everything, including inventory changes and tokens.
    case admin

    private var rank: Int {
        switch self {
        case .node: -1
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

public struct TokenInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// May run any command on nodes (`caulk exec`): always for admin, for operator when granted.
    public var exec: Bool
    public var createdAt: Date
    /// The only clusters it reaches; absent: every cluster.
    public var clusters: [String]?
    /// Refused from then on; absent: it does not expire.
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        name: String, role: Role, exec: Bool, clusters: [String]? = nil, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?
    ) {
        self.name = name
        self.role = role
        self.exec = exec
        self.clusters = clusters
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// A token as created: the only time its secret is ever shown.
public struct CreatedToken: Codable, Sendable {
    public var token: TokenInfo
    public var secret: String

    public init(token: TokenInfo, secret: String) {
        self.token = token
        self.secret = secret
    }
}

public struct TokenInput: Codable, Sendable {
    public var name: String
    public var role: Role
    /// Grant `exec` to an operator token (admins have it; viewers cannot).
    public var exec: Bool?
    /// Seconds until the token expires (60 up to ten years); absent: never.
    public var ttlSeconds: Int?
    /// Limit a viewer or operator token to these clusters; absent: every cluster.
    public var clusters: [String]?

    public init(name: String, role: Role, exec: Bool? = nil, ttlSeconds: Int? = nil, clusters: [String]? = nil) {
        self.name = name
        self.role = role
        self.exec = exec
        self.ttlSeconds = ttlSeconds
        self.clusters = clusters
    }
}

/// Answer of `GET /v1/whoami`.
public struct Identity: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// For `node` tokens: the node, as `cluster/node`.
    public var node: String?
    /// May run any command on nodes (`caulk exec`).
    public var exec: Bool
    /// The only clusters it reaches; absent: every cluster.
    public var clusters: [String]?
    public var expiresAt: Date?

    public init(name: String, role: Role, node: String? = nil, exec: Bool = false, clusters: [String]? = nil, expiresAt: Date? = nil) {
        self.name = name
        self.role = role
        self.node = node
        self.exec = exec
        self.clusters = clusters
        self.expiresAt = expiresAt
    }

    /// Whether the token may act on or read `cluster`.
    public func reaches(_ cluster: String) -> Bool {
        clusters.map { $0.contains(cluster) } ?? true
    }
}
