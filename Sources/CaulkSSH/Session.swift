import CLibSSH2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One libssh2 session over a transport, in non-blocking mode, driven by `Transport.wait`.
///
/// Not thread-safe by design: a session is used by one host operation at a time, on the pool
/// thread running it; between operations a `SessionPool` may keep it, idle, for the next one.
final class Session {
    let raw: OpaquePointer
    let transport: any Transport
    let name: String
    /// The cancellation of the operation using the session now.
    var cancel: CancellationFlag

    init(transport: any Transport, name: String, cancel: CancellationFlag) throws(SSHError) {
        LibSSH2.initialize()
        guard let raw = caulk_session_init() else {
            throw SSHError(.handshake, host: name, operation: "create session", message: "libssh2_session_init failed")
        }
        self.raw = raw
        self.transport = transport
        self.name = name
        self.cancel = cancel
        libssh2_session_set_blocking(raw, 0)
    }

    /// Set by `close` (a teardown test also sets it after freeing by hand).
    var closed = false

    deinit { close() }

    /// The message libssh2 keeps for its last error, copied at once.
    func lastError() -> (code: Int32, message: String) {
        var pointer: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(raw, &pointer, &length, 0)
        return (code, pointer.map { String(cString: $0) } ?? "unknown error")
    }

    func error(_ kind: SSHError.Kind, _ operation: String, code: Int32? = nil) -> SSHError {
        let last = lastError()
        return SSHError(kind, host: name, operation: operation, code: code ?? last.code, message: last.message)
    }

    /// Waits for the socket in the direction libssh2 is blocked on.
    func waitSocket(until deadline: Deadline, operation: String) throws(SSHError) {
        let directions = libssh2_session_block_directions(raw)
        let result = transport.wait(
            readable: directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 || directions == 0,
            writable: directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0,
            until: deadline, cancel: cancel)
        switch result {
        case .ready: return
        case .timedOut: throw SSHError(.timeout, host: name, operation: operation, message: "timed out")
        case .cancelled: throw SSHError(.cancelled, host: name, operation: operation, message: "cancelled")
        }
    }

    /// Repeats an int-returning libssh2 call while it says EAGAIN.
    func retry(_ operation: String, kind: SSHError.Kind, until deadline: Deadline, _ call: () -> Int32) throws(SSHError) {
        while true {
            let rc = call()
            if rc == 0 { return }
            guard rc == LIBSSH2_ERROR_EAGAIN else { throw error(kind, operation, code: rc) }
            try waitSocket(until: deadline, operation: operation)
        }
    }

    /// Repeats a pointer-returning libssh2 call while it says EAGAIN.
    func retry(_ operation: String, kind: SSHError.Kind, until deadline: Deadline, _ call: () -> OpaquePointer?) throws(SSHError) -> OpaquePointer {
        while true {
            if let pointer = call() { return pointer }
            guard libssh2_session_last_errno(raw) == LIBSSH2_ERROR_EAGAIN else { throw error(kind, operation) }
            try waitSocket(until: deadline, operation: operation)
        }
    }

    func handshake(until deadline: Deadline) throws(SSHError) {
        try retry("SSH handshake", kind: .handshake, until: deadline) { libssh2_session_handshake(raw, transport.fd) }
    }

    /// `SHA256:…` of the host key the server showed, as OpenSSH prints it.
    func hostKeyFingerprint() throws(SSHError) -> String {
        guard let hash = libssh2_hostkey_hash(raw, LIBSSH2_HOSTKEY_HASH_SHA256) else {
            throw error(.handshake, "read host key")
        }
        let bytes = UnsafeRawPointer(hash).assumingMemoryBound(to: UInt8.self)
        let digest = Data(UnsafeBufferPointer(start: bytes, count: 32))
        return "SHA256:" + digest.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// Compares the host's key with the policy before anything else is sent.
    func checkHostKey(_ policy: HostKeyPolicy) throws(SSHError) -> String {
        let actual = try hostKeyFingerprint()
        switch policy {
        case .trustOnFirstUse:
            return actual
        case .pinned(let expected) where expected == actual:
            return actual
        case .pinned(let expected):
            throw SSHError(.hostKeyChanged(expected: expected, actual: actual), host: name, operation: "check host key", message: "host key changed")
        case .unknown:
            throw SSHError(.hostKeyUnknown(actual: actual), host: name, operation: "check host key", message: "host key not pinned")
        }
    }

    func authenticate(user: String, privateKey: String, passphrase: Secret?, until deadline: Deadline) throws(SSHError) {
        let operation = "authenticate as \(user) with \(privateKey)"
        do throws(SSHError) {
            try retry(operation, kind: .authentication, until: deadline) {
                libssh2_userauth_publickey_fromfile_ex(raw, user, UInt32(user.utf8.count), nil, privateKey, passphrase?.value)
            }
        } catch where error.code == LIBSSH2_ERROR_FILE {
            throw SSHError(.keyFile, host: name, operation: operation, code: error.code,
                           message: "cannot use the private key (unreadable, unsupported, or wrong passphrase): \(error.message)")
        } catch where (error.code == LIBSSH2_ERROR_AUTHENTICATION_FAILED || error.code == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
            && PrivateKey.type(ofFile: privateKey) == "ssh-rsa"
        {
            throw SSHError(.rsaKeyRefused, host: name, operation: operation, code: error.code, message: error.message)
        }
    }

    func keepalive(interval: Duration) {
        libssh2_keepalive_config(raw, 1, UInt32(max(1, interval.components.seconds)))
    }

    /// Says goodbye and tears down in the one safe order: libssh2's session is freed while its
    /// socket is still open (freeing may still write, closing a channel a timeout abandoned), and
    /// only then is the socket closed. Closed first, its number could already belong to another
    /// connection when libssh2 writes to it. The socket is shut down before the free, so the free
    /// can neither block nor reach the host. Idempotent; `deinit` calls it too.
    func close() {
        guard !closed else { return }
        closed = true
        _ = caulk_session_disconnect(raw, "caulk done")  // best effort, never blocking
        transport.shutdown()
        // Each EAGAIN is a send or read the shut-down socket fails at once; a few rounds end it.
        var rounds = 0
        while libssh2_session_free(raw) == LIBSSH2_ERROR_EAGAIN && rounds < 100 { rounds += 1 }
        transport.close()
    }
}

enum LibSSH2 {
    private static let initialized: Bool = { libssh2_init(0) == 0 }()

    static func initialize() { _ = initialized }
}

/// Reads the key type of a private key file without loading the key.
enum PrivateKey {
    static func type(ofFile path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        if text.contains("BEGIN RSA PRIVATE KEY") { return "ssh-rsa" }
        if text.contains("BEGIN EC PRIVATE KEY") { return "ecdsa" }
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return nil }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { return nil }
        var bytes = [UInt8](data)
        let magic = Array("openssh-key-v1\0".utf8)
        guard bytes.starts(with: magic) else { return nil }
        bytes.removeFirst(magic.count)
        func string() -> [UInt8]? {
            guard bytes.count >= 4 else { return nil }
            let length = bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
            guard bytes.count >= 4 + length else { return nil }
            let value = Array(bytes[4..<(4 + length)])
            bytes.removeFirst(4 + length)
            return value
        }
        // cipher, kdf, kdf options, key count, then the first public key blob
        guard string() != nil, string() != nil, string() != nil, bytes.count >= 4 else { return nil }
        bytes.removeFirst(4)
        guard let publicKey = string() else { return nil }
        bytes = publicKey
        return string().map { String(decoding: $0, as: UTF8.self) }
    }
}
