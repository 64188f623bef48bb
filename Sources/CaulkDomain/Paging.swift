import Foundation

/// Opaque list cursors and page sizes.
///
/// A cursor is the last row id of the previous page, base64url-encoded with a version tag so
/// the format can change without old cursors being misread.
public struct Paging: Sendable, Equatable {
    public static let defaultLimit = 100
    public static let maxLimit = 1000

    public var after: Int64?
    public var limit: Int

    public init(after: Int64? = nil, limit: Int = Paging.defaultLimit) {
        self.after = after
        self.limit = limit
    }

    /// Parses the `cursor` and `limit` query parameters.
    public init(cursor: String?, limit: String?) throws(DomainError) {
        var parsedLimit = Self.defaultLimit
        if let limit {
            guard let value = Int(limit), (1...Self.maxLimit).contains(value) else {
                throw .invalid(field: "limit", message: "must be a number from 1 to \(Self.maxLimit)")
            }
            parsedLimit = value
        }
        var after: Int64?
        if let cursor, !cursor.isEmpty {
            var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
                text.hasPrefix("v1:"), let id = Int64(text.dropFirst(3))
            else {
                throw .invalid(field: "cursor", message: "is not a cursor this server issued; start again without it")
            }
            after = id
        }
        self.init(after: after, limit: parsedLimit)
    }

    /// The cursor for the page after one that ended at `lastId`, or nil when the page was short.
    func nextCursor(lastId: Int64?, count: Int) -> String? {
        guard count == limit, let lastId else { return nil }
        return Data("v1:\(lastId)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
