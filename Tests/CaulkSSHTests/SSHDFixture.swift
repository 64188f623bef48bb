import CaulkTestSupport
import Foundation
import Testing

@testable import CaulkSSH

/// A real OpenSSH server on 127.0.0.1 with its own host key and authorized client keys, run
/// by the tests that need one (the fleet tests use network-namespace nodes instead).
final class SSHDFixture: @unchecked Sendable {
    // Set up in init, read-only afterwards.
    let directory: URL
    let port: Int
    let clientKey: String
    let rsaKey: String
    let hostKeyFingerprint: String
    private var pid: Int32 = 0

    init() throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "caulk-sshd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let hostKey = directory.appending(path: "host_ed25519").path
        clientKey = directory.appending(path: "id_ed25519").path
        rsaKey = directory.appending(path: "id_rsa").path
        try Self.shell("ssh-keygen -q -t ed25519 -N '' -f \(hostKey) && ssh-keygen -q -t ed25519 -N '' -f \(clientKey) && ssh-keygen -q -t rsa -b 2048 -N '' -f \(rsaKey)")
        try Self.shell("cat \(clientKey).pub \(rsaKey).pub > \(directory.path)/authorized_keys")
        hostKeyFingerprint = try Self.shell("ssh-keygen -lf \(hostKey).pub | cut -d' ' -f2").trimmingCharacters(in: .whitespacesAndNewlines)
        port = Self.freePort()
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(hostKey)
            PidFile \(directory.path)/sshd.pid
            AuthorizedKeysFile \(directory.path)/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            StrictModes no
            UsePAM no
            UseDNS no
            MaxStartups 1000:30:1000
            MaxSessions 100
            AllowTcpForwarding yes
            """
        try config.write(to: directory.appending(path: "sshd_config"), atomically: true, encoding: .utf8)
        // sshd daemonises and writes its PID file once it listens.
        try Self.shell("/usr/sbin/sshd -f \(directory.path)/sshd_config")
        for _ in 0..<100 {
            if let text = try? String(contentsOf: directory.appending(path: "sshd.pid"), encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                self.pid = pid
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw FixtureError("sshd did not start on port \(port)")
    }

    deinit {
        if pid > 0 { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(at: directory)
    }

    func target(_ name: String = "local", key: String? = nil, hostKey: HostKeyPolicy? = nil, port: Int? = nil) -> SSHTarget {
        SSHTarget(name: name, host: "127.0.0.1", port: port ?? self.port, user: NSUserName(), privateKey: key ?? clientKey,
                  hostKey: hostKey ?? .pinned(hostKeyFingerprint))
    }

    @discardableResult
    static func shell(_ command: String) throws -> String {
        try Command.shell(command)
    }

    /// A port nothing listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// TCP connections this process holds open to this sshd (descriptors whose socket is in
    /// /proc/net/tcp with this port as the remote end); other suites' sockets do not count.
    var connectionsHeld: Int {
        let inodes = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd), target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst("socket:[".count).dropLast())
        })
        let remote = String(format: ":%04X", port)
        // procfs files report size 0: read to the end, not by size.
        let table = String(decoding: FileHandle(forReadingAtPath: "/proc/self/net/tcp")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 9 && fields[2].hasSuffix(remote) && inodes.contains(String(fields[9]))
        }.count
    }

    static var openFileDescriptors: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
    static var threadCount: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1 }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
