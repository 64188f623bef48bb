import CLibSSH2
import Foundation
import Testing

@testable import CaulkSSH

#if canImport(Glibc)
import Glibc
#endif

/// A connection is torn down in the one safe order: libssh2's session is freed while its socket
/// is still open, and only then is the socket closed. The other way round, libssh2 reads or writes
/// a descriptor number the kernel may already have handed to another connection.
@Suite(.serialized) struct TeardownTests {
    let sshd: SSHDFixture

    init() throws { sshd = try SSHDFixture() }

    /// An authenticated connection whose one command overran its timeout, so its channel was
    /// abandoned mid-way: the case where freeing the session still has work to do on the socket.
    func connectionAfterATimeout() throws -> (Connection, fd: Int32) {
        let target = sshd.target()
        let cancel = CancellationFlag()
        let transport = try TCPTransport.connect(host: target.host, port: target.port, timeout: .seconds(10), name: target.name, cancel: cancel)
        let session = try Session(transport: transport, name: target.name, cancel: cancel)
        let deadline = Deadline(after: .seconds(20))
        try session.handshake(until: deadline)
        _ = try session.checkHostKey(target.hostKey)
        try session.authenticate(user: target.user, privateKey: target.privateKey, passphrase: nil, until: deadline)
        let result = try session.exec(SSHCommand("echo started; sleep 61", timeout: .seconds(1)), options: SSHOptions())
        #expect(result.timedOut)
        return (Connection(session: session, bastion: nil, hostKey: ""), transport.fd)
    }

    /// Puts one end of a fresh socket pair at descriptor `fd` (just closed, so the lowest free
    /// number at or above it is itself) with canary bytes waiting to be read there. Returns the
    /// other end.
    func occupy(_ fd: Int32) throws -> (mine: Int32, other: Int32) {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
        if pair[1] == fd { pair.swapAt(0, 1) }
        if pair[0] != fd {
            let moved = fcntl(pair[0], F_DUPFD, fd)
            Glibc.close(pair[0])
            pair[0] = moved
        }
        guard pair[0] == fd else {
            if pair[0] >= 0 { Glibc.close(pair[0]) }
            Glibc.close(pair[1])
            throw FixtureError("descriptor \(fd) was taken by someone else before the test could reuse it")
        }
        _ = "canary".withCString { write(pair[1], $0, 6) }
        return (pair[0], pair[1])
    }

    /// What the unrelated owner of the number saw: bytes written to it, and canary bytes still
    /// unread (6 unless someone read them).
    func observe(_ ends: (mine: Int32, other: Int32)) -> (written: Int, canaryLeft: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let written = max(0, read(ends.other, &buffer, buffer.count))
        let left = max(0, read(ends.mine, &buffer, buffer.count))
        Glibc.close(ends.mine)
        Glibc.close(ends.other)
        return (written, left)
    }

    @Test func closingFreesTheSessionBeforeTheSocketSoNothingTouchesAReusedDescriptor() throws {
        var (connection, fd): (Connection?, Int32) = try connectionAfterATimeout()
        connection!.close()
        let ends = try occupy(fd)
        connection = nil  // deinit: nothing left to free
        let seen = observe(ends)
        #expect(seen.written == 0, "libssh2 wrote \(seen.written) bytes to a descriptor it no longer owned")
        #expect(seen.canaryLeft == 6, "libssh2 read from a descriptor it no longer owned")
    }

    /// The hazard the order above prevents, shown: close the socket first (as caulk once did),
    /// let its number be reused, then free the session. libssh2 then reads or writes the new
    /// owner's descriptor. If this ever stops touching it, the test above proves less than it says.
    @Test func closingTheSocketFirstLetsLibssh2TouchTheNextOwnersDescriptor() throws {
        let (connection, fd) = try connectionAfterATimeout()
        let session = connection.session
        _ = caulk_session_disconnect(session.raw, "caulk done")
        session.transport.close()
        let ends = try occupy(fd)
        _ = libssh2_session_free(session.raw)  // on the number it still holds
        session.closed = true
        let seen = observe(ends)
        #expect(seen.written > 0 || seen.canaryLeft < 6, "libssh2 left the reused descriptor alone")
    }
}
