import CaulkDomain
import Hummingbird

/// Query-string helpers shared by the list routes.
extension Request {
    /// `limit` and `cursor`. A cursor is only ever one this server issued (`v1:` and a row id,
    /// base64url): anything else is refused before it is decoded, so the API takes exactly
    /// the cursors `cursorPattern` (in config/openapi.yaml too) describes.
    func paging() throws -> Paging {
        let cursor = uri.queryParameters.get("cursor")
        if let cursor, cursor.wholeMatch(of: try Regex(Self.cursorPattern)) == nil {
            throw APIError.badRequest(field: "cursor", message: "is not a cursor this server issued; start again without it")
        }
        return try Paging(cursor: cursor, limit: uri.queryParameters.get("limit"))
    }

    /// The cursors the server issues: base64url of `v1:` (`djE6`) and 1–18 digits, unpadded;
    /// or empty (no cursor). config/openapi.yaml has the same pattern (OpenAPITests checks it).
    static let cursorPattern =
        "^(?:djE6(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){0,5}(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]|(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]|[MN][AQgw]|O[AQ]))?$"

    /// An enum-valued query parameter; an unknown value is a 400 naming the parameter.
    func query<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.badRequest(field: name, message: "'\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A query parameter that names a cluster, node or schedule: a DNS-1123 label when given.
    func name(_ parameter: String) throws -> String? {
        guard let text = uri.queryParameters.get(parameter) else { return nil }
        return try Validate.name(text, field: parameter)
    }

    func flag(_ name: String) throws -> Bool {
        switch uri.queryParameters.get(name) {
        case nil, "false": return false
        case "true": return true
        case let other?: throw APIError.badRequest(field: name, message: "'\(other)' is not true or false; write \(name)=true or \(name)=false")
        }
    }
}

extension AppRequestContext {
    /// The `:id` of the path: a run's, a delivery's.
    func id(of thing: String) throws -> Int64 {
        guard let id = Int64(try parameters.require("id")) else {
            throw APIError.badRequest(field: "id", message: "a \(thing) id is a number")
        }
        return id
    }
}
