/// Why a host operation failed. Pattern-match on `kind`; `description` says what to do.
public struct SSHError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case resolve
        case connectionRefused
        case connectTimeout
        case unreachable
        case handshake
        /// No pinned key, and trust-on-first-use was not asked for.
        case hostKeyUnknown(actual: String)
        /// The host shows a different key from the pinned one.
        case hostKeyChanged(expected: String, actual: String)
        case keyFile
        case authentication
        /// The server refused an RSA key: libssh2 1.10 signs only with SHA-1 (`ssh-rsa`).
        case rsaKeyRefused
        case channel
        case timeout
        case cancelled
        case disconnected
    }

    public var kind: Kind
    /// The host as the caller named it.
    public var host: String
    /// What was being done: `connect 198.18.0.5:22`, `authenticate as root`, …
    public var operation: String
    /// libssh2's error code, when it gave one.
    public var code: Int32?
    public var message: String

    public init(_ kind: Kind, host: String, operation: String, code: Int32? = nil, message: String) {
        self.kind = kind
        self.host = host
        self.operation = operation
        self.code = code
        self.message = message
    }

    public var description: String {
        switch kind {
        case .hostKeyUnknown(let actual):
            return "\(host): host key \(actual) is not pinned, so nothing was sent; check it out of band and pin it (`caulk nodes trust …`), or import it with the inventory"
        case .hostKeyChanged(let expected, let actual):
            return "\(host): host key changed: expected \(expected), got \(actual); nothing was sent. If the change is legitimate, re-pin it with `caulk nodes trust …` after checking"
        case .rsaKeyRefused:
            return "\(host): \(operation): the server refused the RSA key. libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8+ and RHEL 9 disable; use an ed25519 key (ssh-keygen -t ed25519)"
        default:
            return "\(host): \(operation): \(message)" + (code.map { " (libssh2 \($0))" } ?? "")
        }
    }

    /// A short word for tables and history: `refused`, `timeout`, `host-key-changed`, …
    public var summary: String {
        switch kind {
        case .resolve: "unresolvable"
        case .connectionRefused: "connection-refused"
        case .connectTimeout: "connect-timeout"
        case .unreachable: "unreachable"
        case .handshake: "handshake-failed"
        case .hostKeyUnknown: "host-key-unknown"
        case .hostKeyChanged: "host-key-changed"
        case .keyFile: "key-file"
        case .authentication, .rsaKeyRefused: "auth-failed"
        case .channel: "channel-failed"
        case .timeout: "timeout"
        case .cancelled: "cancelled"
        case .disconnected: "disconnected"
        }
    }
}
