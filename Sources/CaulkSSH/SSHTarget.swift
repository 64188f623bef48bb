/// Where and how to reach one host. The engine knows hosts and commands, nothing about clusters.
public struct SSHTarget: Sendable, Hashable {
    /// How results and errors name this host, e.g. `prod-a/n3`.
    public var name: String
    public var host: String
    public var port: Int
    public var user: String
    /// Private key file (ed25519 or ECDSA; see `SSHError.Kind.rsaKeyRefused`).
    public var privateKey: String
    public var passphrase: Secret?
    public var hostKey: HostKeyPolicy
    /// Jump host the connection goes through (`direct-tcpip`), itself checked and authenticated.
    public var bastion: Bastion?
    /// Run every command as this user through `sudo -n` (never a password prompt); nil: as `user`.
    public var become: String?

    public init(
        name: String, host: String, port: Int = 22, user: String, privateKey: String, passphrase: Secret? = nil,
        hostKey: HostKeyPolicy, bastion: Bastion? = nil, become: String? = nil
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.user = user
        self.privateKey = privateKey
        self.passphrase = passphrase
        self.hostKey = hostKey
        self.bastion = bastion
        self.become = become
    }
}

/// A jump host. Its own host key is pinned like any node's.
public struct Bastion: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var privateKey: String
    public var passphrase: Secret?
    public var hostKey: HostKeyPolicy

    public init(host: String, port: Int = 22, user: String, privateKey: String, passphrase: Secret? = nil, hostKey: HostKeyPolicy) {
        self.host = host
        self.port = port
        self.user = user
        self.privateKey = privateKey
        self.passphrase = passphrase
        self.hostKey = hostKey
    }
}

/// What to accept as the host's key. Anything else means nothing is sent to the host.
public enum HostKeyPolicy: Sendable, Hashable {
    /// Only this `SHA256:…` fingerprint.
    case pinned(String)
    /// Accept whatever key the host shows; the caller pins `HostOutcome.hostKey`. Only when
    /// asked for explicitly.
    case trustOnFirstUse
    /// No pin and no permission to learn one: refuse.
    case unknown
}

/// Timeouts and limits of a host operation.
public struct SSHOptions: Sendable, Equatable {
    /// TCP connect, per address tried.
    public var connectTimeout: Duration = .seconds(10)
    /// Handshake plus authentication.
    public var loginTimeout: Duration = .seconds(20)
    /// Interval of SSH keepalive messages while a command runs.
    public var keepaliveInterval: Duration = .seconds(15)
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    public var outputCap: Int = 1 << 20

    public init() {}
}

/// A secret (a key's passphrase) that never shows in a description, a log line or a dump of
/// whatever holds it: `String(describing:)` of any struct around it prints `<redacted>`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// One command of a host operation.
public struct SSHCommand: Sendable, Equatable {
    /// Run by the remote user's shell, as given: callers quote what they interpolate.
    public var command: String
    /// After this the channel is closed and the result says `timedOut`.
    public var timeout: Duration
    /// Also stop the command on the host when it overruns, or when its channel closes first (caulk
    /// cancelled it, or died). Closing an SSH channel does not stop a command that has no terminal
    /// (sshd sends no SIGHUP), so the command runs under coreutils `timeout`, set one second past
    /// the channel's, and, unless it takes `stdin`, beside a watchdog that reads the channel's
    /// input: caulk never closes it, so end of file there means the channel is gone, and the
    /// watchdog stops the command's whole process group (the command reads /dev/null instead).
    public var stopOnHost: Bool
    /// Sent to the command's standard input, then end of file: how a secret reaches a host
    /// without appearing on any command line (`ps` on the host shows command lines to everyone).
    public var stdin: [UInt8]?

    public init(_ command: String, timeout: Duration = .seconds(60), stopOnHost: Bool = true, stdin: [UInt8]? = nil) {
        self.command = command
        self.timeout = timeout
        self.stopOnHost = stopOnHost
        self.stdin = stdin
    }

    /// What is sent to the host.
    public var wire: String {
        guard stopOnHost else { return command }
        let seconds = timeout.components.seconds + 1
        let timed = "timeout -k 2 \(seconds) sh -c \(ShellQuote.quote(command))"
        guard stdin == nil else { return timed }
        // `timeout` passes the watchdog's TERM on to the command's process group. Killed, the
        // watchdog dies in its `read` builtin: no process of it outlives the command. A command
        // killed by a signal is reported as such: the shell ends by the same signal.
        return "exec 3<&0; \(timed) </dev/null & c=$!; "
            + "(while read -r _; do :; done <&3; kill -TERM $c) >/dev/null 2>&1 & w=$!; "
            + "wait $c; s=$?; kill $w 2>/dev/null; "
            + "if [ $s -gt 128 ] && [ $s -le 192 ]; then kill -$((s - 128)) $$; fi; exit $s"
    }

    /// What is sent to the host when commands run as `become` through sudo. `-n`: sudo fails at
    /// once, saying why ("a password is required"), rather than wait at a prompt.
    public func wire(become: String?) -> String {
        guard let become else { return wire }
        return "sudo -n -u \(ShellQuote.quote(become)) -- sh -c \(ShellQuote.quote(wire))"
    }
}

/// POSIX shell quoting: the value becomes one word, whatever it contains.
public enum ShellQuote {
    public static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// What one command did. A non-zero exit status is data, not an error.
public struct CommandResult: Sendable, Equatable {
    public var command: String
    public var exitStatus: Int32?
    public var exitSignal: String?
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    public var timedOut: Bool
    public var duration: Duration

    public var succeeded: Bool { !timedOut && exitStatus == 0 && exitSignal == nil }
}

/// Everything that happened on one host: the commands' results, or why none ran.
public struct HostOutcome: Sendable {
    public var target: SSHTarget
    /// The fingerprint the host showed, when the handshake got that far (for pinning on first use).
    public var hostKey: String?
    public var result: Result<[CommandResult], SSHError>
    public var duration: Duration
    /// Ran over a connection kept from an earlier operation (`SessionPool`).
    public var reusedConnection = false
}
