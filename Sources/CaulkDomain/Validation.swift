import Foundation

/// Validation of every value that enters caulk from a request or an inventory file. Names and
/// addresses end up in SSH targets, logs and (quoted) commands, so they are held to the
/// narrowest rule that real inventories satisfy.
public enum Validate {
    /// A DNS-1123 label: 1–63 of `a-z`, `0-9`, `-`, starting and ending alphanumeric.
    public static func name(_ value: String, field: String) throws(DomainError) -> String {
        guard !value.isEmpty else { throw .invalid(field: field, message: "must not be empty") }
        guard value.utf8.count <= 63 else {
            throw .invalid(field: field, message: "is \(value.utf8.count) characters long; a DNS-1123 label has at most 63")
        }
        guard isLabel(value, allowUppercase: false) else {
            throw .invalid(field: field, message: "\(quoted(value)) is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)")
        }
        return value
    }

    /// An IPv4 address, an IPv6 address, or a DNS name.
    public static func address(_ value: String, field: String) throws(DomainError) -> String {
        if isIPv4(value) || isIPv6(value) || isDNSName(value) { return value }
        throw .invalid(field: field, message: "\(quoted(value)) is not an IPv4 address, an IPv6 address or a DNS name")
    }

    public static func port(_ value: Int, field: String) throws(DomainError) -> Int {
        guard (1...65535).contains(value) else { throw .invalid(field: field, message: "\(value) is not a port (1–65535)") }
        return value
    }

    /// `https://HOST[:PORT][/]`, HOST being an address as above (IPv6 in brackets).
    public static func apiEndpoint(_ value: String, field: String) throws(DomainError) -> String {
        let problem = "\(quoted(value)) is not a Kubernetes API endpoint like https://198.18.0.10:6443"
        guard value.utf8.count <= 300, let components = URLComponents(string: value),
            let scheme = components.scheme, scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.query == nil, components.fragment == nil,
            components.path.isEmpty || components.path == "/"
        else { throw .invalid(field: field, message: problem) }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        guard isIPv4(bare) || isIPv6(bare) || isDNSName(bare) else { throw .invalid(field: field, message: problem) }
        if let port = components.port { _ = try Self.port(port, field: field) }
        return value
    }

    /// An IPv4 or IPv6 network in CIDR notation with no host bits set.
    public static func cidr(_ value: String, field: String) throws(DomainError) -> String {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let problem = "\(quoted(value)) is not a CIDR like 198.19.0.0/16"
        guard parts.count == 2, let prefix = Int(parts[1]), String(prefix) == parts[1] else {
            throw .invalid(field: field, message: problem)
        }
        let address = String(parts[0])
        guard let bytes = addressBytes(address) else { throw .invalid(field: field, message: problem) }
        guard (0...(bytes.count * 8)).contains(prefix) else {
            throw .invalid(field: field, message: "\(quoted(value)): prefix length must be 0–\(bytes.count * 8)")
        }
        for bit in prefix..<(bytes.count * 8) where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
            throw .invalid(field: field, message: "\(quoted(value)) has host bits set; did you mean the network address?")
        }
        return value
    }

    /// A POSIX user name.
    public static func user(_ value: String, field: String) throws(DomainError) -> String {
        let ok = !value.isEmpty && value.utf8.count <= 32
            && value.utf8.first.map { isLowerOrUnderscore($0) } == true
            && value.utf8.allSatisfy { isLowerOrUnderscore($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
        guard ok else { throw .invalid(field: field, message: "\(quoted(value)) is not a user name (lowercase letters, digits, '_', '-', '.', at most 32)") }
        return value
    }

    /// A path on the caulk server: printable, no spaces or shell metacharacters.
    public static func path(_ value: String, field: String) throws(DomainError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/~+@,=")
        guard !value.isEmpty, value.utf8.count <= 4096, value.allSatisfy({ allowed.contains($0) }) else {
            throw .invalid(field: field, message: "\(quoted(value)) is not an acceptable path (letters, digits and ._-/~+@,= only)")
        }
        return value
    }

    /// A jump host as `[user@]host[:port]`.
    public static func bastion(_ value: String, field: String) throws(DomainError) -> String {
        _ = try BastionAddress(value, field: field)
        return value
    }

    /// Kubernetes-style label key (`[prefix/]name`) and value.
    public static func labels(_ labels: [String: String], field: String) throws(DomainError) -> [String: String] {
        guard labels.count <= 64 else { throw .invalid(field: field, message: "at most 64 labels") }
        for (key, value) in labels {
            let parts = key.split(separator: "/", omittingEmptySubsequences: false)
            let name = String(parts.last ?? "")
            let prefixOK = parts.count == 1 || (parts.count == 2 && parts[0].utf8.count <= 253 && isDNSName(String(parts[0])))
            guard parts.count <= 2, prefixOK, isLabelValue(name), !name.isEmpty else {
                throw .invalid(field: "\(field).\(key)", message: "\(quoted(key)) is not a label key ([prefix/]name, name of letters, digits, '-', '_', '.', at most 63)")
            }
            guard value.isEmpty || isLabelValue(value) else {
                throw .invalid(field: "\(field).\(key)", message: "\(quoted(value)) is not a label value (letters, digits, '-', '_', '.', at most 63)")
            }
        }
        return labels
    }

    /// `key=value` label selectors, each a valid label.
    public static func selectors(_ selectors: [String], field: String) throws(DomainError) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        for selector in selectors {
            guard let equals = selector.firstIndex(of: "="), equals != selector.startIndex else {
                throw .invalid(field: field, message: "\(quoted(selector)) is not a key=value selector")
            }
            let pair = (key: String(selector[..<equals]), value: String(selector[selector.index(after: equals)...]))
            _ = try labels([pair.key: pair.value], field: field)
            pairs.append(pair)
        }
        return pairs
    }

    // MARK: Building blocks

    static func isLabel(_ value: String, allowUppercase: Bool) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { isLower(b) || isDigit(b) || (allowUppercase && isUpper(b)) }
        return alnum(bytes.first!) && alnum(bytes.last!) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    static func isLabelValue(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { isLower(b) || isUpper(b) || isDigit(b) }
        return alnum(bytes.first!) && alnum(bytes.last!)
            && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// RFC 1123 host name; a name made only of digits and dots is not one (it is a bad IPv4 address).
    static func isDNSName(_ value: String) -> Bool {
        let name = value.hasSuffix(".") ? String(value.dropLast()) : value
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ isLabel(String($0), allowUppercase: true) }) else { return false }
        return !name.utf8.allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") }
    }

    static func isIPv4(_ value: String) -> Bool {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            guard let number = Int(part), (0...255).contains(number) else { return false }
            return String(number) == part
        }
    }

    static func isIPv6(_ value: String) -> Bool {
        var storage = in6_addr()
        return !value.contains("%") && value.contains(":") && inet_pton(AF_INET6, value, &storage) == 1
    }

    /// Network-order bytes of an IPv4 or IPv6 address.
    static func addressBytes(_ value: String) -> [UInt8]? {
        if isIPv4(value) { return value.split(separator: ".").map { UInt8($0)! } }
        guard isIPv6(value) else { return nil }
        var storage = in6_addr()
        _ = inet_pton(AF_INET6, value, &storage)
        return withUnsafeBytes(of: &storage) { Array($0) }
    }

    static func quoted(_ value: String) -> String {
        let shown = value.utf8.count > 80 ? String(value.prefix(80)) + "…" : value
        return "'" + shown.unicodeScalars.map { $0.properties.generalCategory == .control ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "'"
    }

    private static func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    private static func isUpper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func isLowerOrUnderscore(_ b: UInt8) -> Bool { isLower(b) || b == UInt8(ascii: "_") }
}
