import Foundation

/// One host operation, start to end, as one blocking function: connect → handshake → host key
/// check → authenticate → each command → disconnect → free. It runs on a dedicated pool thread
/// (see `SSHExecutor`); every libssh2 object it makes is created and freed inside it.
public enum HostOperation {
    public static func run(_ target: SSHTarget, commands: [SSHCommand], options: SSHOptions, cancel: CancellationFlag) -> HostOutcome {
        let started = ContinuousClock.now
        var observedKey: String?
        let result: Result<[CommandResult], SSHError>
        do throws(SSHError) {
            result = .success(try perform(target, commands: commands, options: options, cancel: cancel, observedKey: &observedKey))
        } catch {
            result = .failure(error)
        }
        return HostOutcome(target: target, hostKey: observedKey, result: result, duration: ContinuousClock.now - started)
    }

    private static func perform(
        _ target: SSHTarget, commands: [SSHCommand], options: SSHOptions, cancel: CancellationFlag, observedKey: inout String?
    ) throws(SSHError) -> [CommandResult] {
        try checkReadable(target.privateKey, name: target.name)
        let login = Deadline(after: options.loginTimeout)
        let transport: any Transport
        var bastionSession: Session?
        if let bastion = target.bastion {
            try checkReadable(bastion.privateKey, name: target.name)
            let bastionName = "\(target.name) via bastion \(bastion.host)"
            let socket = try TCPTransport.connect(host: bastion.host, port: bastion.port, timeout: options.connectTimeout, name: bastionName, cancel: cancel)
            let session = try Session(transport: socket, name: bastionName, cancel: cancel)
            try session.handshake(until: login)
            _ = try session.checkHostKey(bastion.hostKey)
            try session.authenticate(user: bastion.user, privateKey: bastion.privateKey, passphrase: bastion.passphrase, until: login)
            session.keepalive(interval: options.keepaliveInterval)
            transport = try TunnelTransport(bastion: session, targetHost: target.host, targetPort: target.port, until: login)
            bastionSession = session
        } else {
            transport = try TCPTransport.connect(host: target.host, port: target.port, timeout: options.connectTimeout, name: target.name, cancel: cancel)
        }
        defer {
            transport.close()
            bastionSession?.disconnect()
            bastionSession?.transport.close()
        }
        let session = try Session(transport: transport, name: target.name, cancel: cancel)
        defer { session.disconnect() }
        try session.handshake(until: login)
        observedKey = try session.hostKeyFingerprint()
        _ = try session.checkHostKey(target.hostKey)
        try session.authenticate(user: target.user, privateKey: target.privateKey, passphrase: target.passphrase, until: login)
        session.keepalive(interval: options.keepaliveInterval)
        var results: [CommandResult] = []
        for command in commands {
            if cancel.isCancelled { throw SSHError(.cancelled, host: target.name, operation: "run command", message: "cancelled") }
            results.append(try session.exec(command, options: options))
        }
        return results
    }

    private static func checkReadable(_ path: String, name: String) throws(SSHError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SSHError(.keyFile, host: name, operation: "read private key \(path)", message: "the file does not exist or is not readable by the caulk service")
        }
    }
}
