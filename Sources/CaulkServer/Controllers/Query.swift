import CaulkDomain
import Hummingbird

/// Query-string helpers shared by the list routes.
extension Request {
    func paging() throws -> Paging {
        try Paging(cursor: uri.queryParameters.get("cursor"), limit: uri.queryParameters.get("limit"))
    }

    /// An enum-valued query parameter; an unknown value is a 400 naming the parameter.
    func query<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.badRequest(field: name, message: "'\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func flag(_ name: String) throws -> Bool {
        switch uri.queryParameters.get(name) {
        case nil, "false", "0": return false
        case "true", "1", "": return true
        case let other?: throw APIError.badRequest(field: name, message: "'\(other)' is not true or false")
        }
    }
}
