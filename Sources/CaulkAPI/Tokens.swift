import Foundation

/// What a bearer token may do. Each role includes the ones before it.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Belongs to one node and may only announce that node's boots (the boot beacon). Below
    /// `viewer`: it reads nothing.
    case node
    /// Read anything.
    case viewer
    /// Read, and run audits and repairs.
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
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(name: String, role: Role, createdAt: Date, lastUsedAt: Date?, revokedAt: Date?) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
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

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// Answer of `GET /v1/whoami`.
public struct Identity: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// For `node` tokens: the node, as `cluster/node`.
    public var node: String?

    public init(name: String, role: Role, node: String? = nil) {
        self.name = name
        self.role = role
        self.node = node
    }
}
