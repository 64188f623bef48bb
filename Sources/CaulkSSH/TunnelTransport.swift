import CLibSSH2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A transport through a bastion: a `direct-tcpip` channel of the bastion's session, bridged to
/// one end of a socket pair that the node's session uses as its socket.
///
/// Both sessions are driven from the one thread running the host operation: whenever the node's
/// session waits, the tunnel pumps bytes between the pair and the channel until the node's side
/// can move, so no extra thread and no session shared between threads.
final class TunnelTransport: Transport {
    let bastion: Session
    private let channel: OpaquePointer
    /// The node session's end.
    private(set) var fd: Int32
    /// The tunnel's end.
    private var inner: Int32
    private var toNode: [UInt8] = []
    private var toBastion: [UInt8] = []
    private var channelClosed = false

    init(bastion: Session, targetHost: String, targetPort: Int, until deadline: Deadline) throws(SSHError) {
        self.bastion = bastion
        channel = try bastion.retry("open tunnel to \(targetHost):\(targetPort)", kind: .channel, until: deadline) {
            libssh2_channel_direct_tcpip_ex(bastion.raw, targetHost, Int32(targetPort), "127.0.0.1", 22)
        }
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            _ = libssh2_channel_free(channel)
            throw SSHError(.channel, host: bastion.name, operation: "socketpair", message: String(cString: strerror(errno)))
        }
        fd = pair[0]
        inner = pair[1]
    }

    deinit { close() }

    func wait(readable: Bool, writable: Bool, until deadline: Deadline, cancel: CancellationFlag) -> WaitResult {
        while true {
            pump()
            var mine = pollfd(fd: fd, events: Int16(readable ? POLLIN : 0) | Int16(writable ? POLLOUT : 0), revents: 0)
            if poll(&mine, 1, 0) > 0 { return .ready }
            if cancel.isCancelled { return .cancelled }
            if deadline.expired { return .timedOut }
            let directions = libssh2_session_block_directions(bastion.raw)
            var events: [pollfd] = [
                pollfd(fd: inner, events: Int16(POLLIN) | Int16(toNode.isEmpty ? 0 : POLLOUT), revents: 0),
                pollfd(fd: bastion.transport.fd, events: Int16(POLLIN) | Int16(directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 ? POLLOUT : 0), revents: 0),
            ]
            _ = poll(&events, 2, deadline.remainingMilliseconds())
        }
    }

    /// Moves whatever can move without blocking, in both directions.
    private func pump() {
        var progressed = true
        while progressed && inner >= 0 {
            progressed = false
            if toNode.isEmpty && !channelClosed {
                var buffer = [CChar](repeating: 0, count: 32 * 1024)
                let n = buffer.withUnsafeMutableBufferPointer { caulk_channel_read_stdout(channel, $0.baseAddress, $0.count) }
                if n > 0 {
                    toNode = buffer.prefix(n).map { UInt8(bitPattern: $0) }
                } else if (n < 0 && Int32(n) != LIBSSH2_ERROR_EAGAIN) || libssh2_channel_eof(channel) != 0 {
                    channelClosed = true
                }
            }
            if !toNode.isEmpty {
                let n = toNode.withUnsafeBytes { write(inner, $0.baseAddress, $0.count) }
                if n > 0 { toNode.removeFirst(n); progressed = true }
            } else if channelClosed {
                // The far side is gone: let the node's session see end of file.
                Glibc.shutdown(inner, Int32(SHUT_WR))
            }
            if toBastion.isEmpty {
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                let n = buffer.withUnsafeMutableBytes { read(inner, $0.baseAddress, $0.count) }
                if n > 0 { toBastion = Array(buffer.prefix(n)) }
            }
            if !toBastion.isEmpty {
                let n = toBastion.withUnsafeBytes { caulk_channel_write(channel, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
                if n > 0 { toBastion.removeFirst(n); progressed = true }
            }
        }
    }

    func shutdown() {
        if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        if inner >= 0 {
            Glibc.close(inner)
            inner = -1
            let deadline = Deadline(after: .seconds(2))
            _ = libssh2_channel_close(channel)
            while libssh2_channel_free(channel) == LIBSSH2_ERROR_EAGAIN && !deadline.expired {
                _ = try? bastion.waitSocket(until: deadline, operation: "close tunnel")
            }
        }
    }
}
