import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// The active (not revoked) token with this secret hash, if any.
    public func activeToken(secretHash: String) async throws -> TokenRecord? {
        try await writer.read { db in
            try TokenRecord
                .filter(TokenRecord.Columns.secretHash == secretHash && TokenRecord.Columns.revokedAt == nil)
                .fetchOne(db)
        }
    }

    public func tokens(includeRevoked: Bool, after: Int64? = nil, limit: Int) async throws -> [TokenRecord] {
        try await writer.read { db in
            var request = TokenRecord.order(TokenRecord.Columns.id).limit(limit)
            if let after { request = request.filter(TokenRecord.Columns.id > after) }
            if !includeRevoked { request = request.filter(TokenRecord.Columns.revokedAt == nil) }
            return try request.fetchAll(db)
        }
    }

    /// Number of tokens ever created, revoked ones included.
    public func tokenCount() async throws -> Int {
        try await writer.read { db in try TokenRecord.fetchCount(db) }
    }

    public enum Revocation: Sendable {
        case revoked(TokenRecord)
        case notFound
        /// It is the last active admin token: revoking it would lock every admin out.
        case lastAdmin(TokenRecord)
    }

    /// Revokes the active token with this name (expired or not), unless it is the last admin token
    /// that still works (checked in the same transaction, so two revocations cannot both pass).
    public func revokeToken(named name: String, at date: Date, activity: (@Sendable (TokenRecord) -> ActivityRecord)? = nil) async throws -> Revocation {
        try await writer.write { db in
            let active = TokenRecord.filter(TokenRecord.Columns.revokedAt == nil)
            guard var token = try active.filter(TokenRecord.Columns.name == name).fetchOne(db) else { return .notFound }
            let working = active.filter(Column("role") == Role.admin)
                .filter(TokenRecord.Columns.expiresAt == nil || TokenRecord.Columns.expiresAt > date)
            if token.role == .admin, token.works(at: date), try working.filter(TokenRecord.Columns.id != token.id).fetchCount(db) == 0 {
                return .lastAdmin(token)
            }
            token.revokedAt = date
            try token.update(db)
            try Self.record(activity?(token), in: db)
            return .revoked(token)
        }
    }

    /// Revokes a node's `node` tokens other than `keep` (after a new one was installed), or only
    /// `keep` itself when `onlyKeep` (the install failed and the old one stays in use).
    public func revokeNodeTokens(nodeId: Int64, keep: Int64, onlyKeep: Bool, at date: Date) async throws {
        try await writer.write { db in
            let condition = onlyKeep ? "id = ?" : "id <> ?"
            try db.execute(
                sql: "UPDATE tokens SET revoked_at = ? WHERE node_id = ? AND revoked_at IS NULL AND \(condition)",
                arguments: [date, nodeId, keep])
        }
    }

    /// Revokes every active `node` token of these nodes (a node retired, or its token exposed):
    /// the beacon on them can announce nothing until it is installed again.
    public func revokeNodeTokens(nodeIds: [Int64], at date: Date, activity: (@Sendable ([TokenRecord]) -> ActivityRecord)? = nil) async throws -> [TokenRecord] {
        try await writer.write { db in
            let active = try TokenRecord.filter(nodeIds.contains(TokenRecord.Columns.nodeId) && TokenRecord.Columns.revokedAt == nil)
                .order(TokenRecord.Columns.id).fetchAll(db)
            let revoked = try active.map { token in
                var token = token
                token.revokedAt = date
                try token.update(db)
                return token
            }
            if !revoked.isEmpty { try Self.record(activity?(revoked), in: db) }
            return revoked
        }
    }

    /// Records use, at most once a minute per token so reads stay reads.
    public func touchToken(id: Int64, at date: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                arguments: [date, id, date.addingTimeInterval(-60)]
            )
        }
    }

    /// `cluster/node` of a node id.
    public func nodePath(id: Int64) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT c.name || '/' || n.name FROM nodes n JOIN clusters c ON c.id = n.cluster_id WHERE n.id = ?", arguments: [id])
        }
    }
}
