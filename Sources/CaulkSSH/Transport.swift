import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The byte pipe a libssh2 session runs over: a TCP socket, or one end of a tunnel through a
/// bastion. `wait` blocks (poll(2), never spinning) until the socket can move data the way
/// libssh2 asked, the deadline passes, or the operation is cancelled.
protocol Transport: AnyObject {
    var fd: Int32 { get }
    func wait(readable: Bool, writable: Bool, until deadline: Deadline, cancel: CancellationFlag) -> WaitResult
    /// No more bytes either way, the descriptor kept (its number stays ours until `close`).
    func shutdown()
    func close()
}

enum WaitResult { case ready, timedOut, cancelled }

/// A connected, non-blocking TCP socket with TCP_NODELAY.
final class TCPTransport: Transport {
    private(set) var fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Tries each address of `host` in turn, each within `timeout`.
    static func connect(host: String, port: Int, timeout: Duration, name: String, cancel: CancellationFlag) throws(SSHError) -> TCPTransport {
        let operation = "connect \(host.contains(":") ? "[\(host)]" : host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // An address literal needs no lookup; AI_ADDRCONFIG would list every local interface
        // per call, which is slow on hosts with many (hundreds of veths on a lab or a node).
        var probe = in6_addr()
        if inet_pton(AF_INET, host, &probe) == 1 || inet_pton(AF_INET6, host, &probe) == 1 {
            hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        } else {
            hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV
        }
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw SSHError(.resolve, host: name, operation: operation, message: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var lastError = SSHError(.unreachable, host: name, operation: operation, message: "no address to connect to")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                return TCPTransport(fd: fd)
            }
            guard errno == EINPROGRESS else {
                lastError = Self.error(errno, name: name, operation: operation)
                Glibc.close(fd)
                continue
            }
            let transport = TCPTransport(fd: fd)
            switch transport.wait(readable: false, writable: true, until: Deadline(after: timeout), cancel: cancel) {
            case .ready:
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                if soError == 0 { return transport }
                lastError = Self.error(soError, name: name, operation: operation)
            case .timedOut:
                lastError = SSHError(.connectTimeout, host: name, operation: operation, message: "no answer within \(timeout)")
            case .cancelled:
                throw SSHError(.cancelled, host: name, operation: operation, message: "cancelled")
            }
            transport.close()
        }
        throw lastError
    }

    private static func error(_ code: Int32, name: String, operation: String) -> SSHError {
        let message = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED: return SSHError(.connectionRefused, host: name, operation: operation, message: message)
        case ETIMEDOUT: return SSHError(.connectTimeout, host: name, operation: operation, message: message)
        default: return SSHError(.unreachable, host: name, operation: operation, message: message)
        }
    }

    func wait(readable: Bool, writable: Bool, until deadline: Deadline, cancel: CancellationFlag) -> WaitResult {
        var events: Int16 = 0
        if readable { events |= Int16(POLLIN) }
        if writable { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        while true {
            if cancel.isCancelled { return .cancelled }
            if deadline.expired { return .timedOut }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&pfd, 1, deadline.remainingMilliseconds())
            if n > 0 { return .ready }
            if n < 0 && errno != EINTR { return .ready }  // let the caller's next call report the error
        }
    }

    func shutdown() {
        if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
