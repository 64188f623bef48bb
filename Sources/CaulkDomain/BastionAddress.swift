/// A jump host as written in the inventory, `[user@]host[:port]`, parsed and checked once so
/// validation and the SSH targets read it the same way.
public struct BastionAddress: Sendable, Equatable {
    public var user: String?
    public var host: String
    public var port: Int?

    public init(_ value: String, field: String) throws(DomainError) {
        var rest = Substring(value)
        if let at = rest.firstIndex(of: "@") {
            user = try Validate.user(String(rest[..<at]), field: field)
            rest = rest[rest.index(after: at)...]
        }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), Validate.isIPv6(String(rest[rest.index(after: rest.startIndex)..<close])) else {
                throw .invalid(field: field, message: "\(Validate.quoted(value)) is not [user@]host[:port]")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.isEmpty { return }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else {
                throw .invalid(field: field, message: "\(Validate.quoted(value)) is not [user@]host[:port]")
            }
            self.port = try Validate.port(port, field: field)
            return
        }
        let hostAndPort = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard hostAndPort.count <= 2 else { throw .invalid(field: field, message: "\(Validate.quoted(value)) is not [user@]host[:port]; put IPv6 addresses in brackets") }
        host = try Validate.address(String(hostAndPort[0]), field: field)
        if hostAndPort.count == 2 {
            guard let port = Int(hostAndPort[1]) else { throw .invalid(field: field, message: "\(Validate.quoted(value)) has a port that is not a number") }
            self.port = try Validate.port(port, field: field)
        }
    }
}
