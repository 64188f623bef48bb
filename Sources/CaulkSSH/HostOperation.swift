import Foundation

/// One host operation, start to end, as one blocking function: connect → handshake → host key
/// check → authenticate → each command → disconnect → free. It runs on a dedicated pool thread
/// (see `SSHExecutor`). With a `SessionPool`, the connection of a clean operation is kept for the
/// next one on that host instead of closed, and a kept one is used instead of connecting.
public enum HostOperation {
    /// How long a kept connection has to open a channel before it is taken for dead (the host
    /// rebooted without closing it) and a new connection is made.
    static let reuseProbe: Duration = .seconds(5)

    public static func run(
        _ target: SSHTarget, commands: [SSHCommand], options: SSHOptions, cancel: CancellationFlag, pool: SessionPool? = nil
    ) -> HostOutcome {
        let started = ContinuousClock.now
        var observedKey: String?
        var reused = false
        let result: Result<[CommandResult], SSHError>
        do throws(SSHError) {
            result = .success(try perform(target, commands: commands, options: options, cancel: cancel, pool: pool, observedKey: &observedKey, reused: &reused))
        } catch {
            result = .failure(error)
        }
        return HostOutcome(target: target, hostKey: observedKey, result: result, duration: ContinuousClock.now - started, reusedConnection: reused)
    }

    private static func perform(
        _ target: SSHTarget, commands: [SSHCommand], options: SSHOptions, cancel: CancellationFlag, pool: SessionPool?,
        observedKey: inout String?, reused: inout Bool
    ) throws(SSHError) -> [CommandResult] {
        try checkReadable(target.privateKey, name: target.name)
        let key = pool == nil ? nil : SessionPool.key(target)
        if let pool, let key, let kept = pool.checkout(key) {
            kept.adopt(cancel)
            do throws(SSHError) {
                let results = try run(commands, on: kept.session, become: target.become, options: options, cancel: cancel, firstOpenWithin: reuseProbe)
                observedKey = kept.hostKey
                reused = true
                finish(kept, results: results, pool: pool, key: key)
                return results
            } catch where error.operation == Session.openChannel && error.kind != .cancelled {
                kept.close()  // closed or dead on the host's side: connect afresh
            } catch {
                kept.close()
                throw error
            }
        }
        let connection = try connect(target, options: options, cancel: cancel, observedKey: &observedKey)
        do throws(SSHError) {
            let results = try run(commands, on: connection.session, become: target.become, options: options, cancel: cancel, firstOpenWithin: nil)
            finish(connection, results: results, pool: pool, key: key)
            return results
        } catch {
            connection.close()
            throw error
        }
    }

    /// Keeps the connection when the operation ended cleanly (a timed-out command's channel was
    /// abandoned mid-way: that session is not reused).
    private static func finish(_ connection: Connection, results: [CommandResult], pool: SessionPool?, key: SSHTarget?) {
        if let pool, let key, !results.contains(where: \.timedOut) {
            pool.checkin(connection, key: key)
        } else {
            connection.close()
        }
    }

    private static func connect(_ target: SSHTarget, options: SSHOptions, cancel: CancellationFlag, observedKey: inout String?) throws(SSHError) -> Connection {
        let login = Deadline(after: options.loginTimeout)
        let transport: any Transport
        var bastionSession: Session?
        if let bastion = target.bastion {
            try checkReadable(bastion.privateKey, name: target.name)
            let bastionName = "\(target.name) via bastion \(bastion.host)"
            let socket = try TCPTransport.connect(host: bastion.host, port: bastion.port, timeout: options.connectTimeout, name: bastionName, cancel: cancel)
            do throws(SSHError) {
                let session = try Session(transport: socket, name: bastionName, cancel: cancel)
                bastionSession = session
                try session.handshake(until: login)
                _ = try session.checkHostKey(bastion.hostKey)
                try session.authenticate(user: bastion.user, privateKey: bastion.privateKey, passphrase: bastion.passphrase, until: login)
                session.keepalive(interval: options.keepaliveInterval)
                transport = try TunnelTransport(bastion: session, targetHost: target.host, targetPort: target.port, until: login)
            } catch {
                bastionSession?.close()
                socket.close()
                throw error
            }
        } else {
            transport = try TCPTransport.connect(host: target.host, port: target.port, timeout: options.connectTimeout, name: target.name, cancel: cancel)
        }
        let session: Session
        do throws(SSHError) {
            session = try Session(transport: transport, name: target.name, cancel: cancel)
        } catch {
            transport.close()
            bastionSession?.close()
            throw error
        }
        let connection = Connection(session: session, bastion: bastionSession, hostKey: "")
        do throws(SSHError) {
            try session.handshake(until: login)
            observedKey = try session.hostKeyFingerprint()
            _ = try session.checkHostKey(target.hostKey)
            try session.authenticate(user: target.user, privateKey: target.privateKey, passphrase: target.passphrase, until: login)
            session.keepalive(interval: options.keepaliveInterval)
        } catch {
            connection.close()
            throw error
        }
        connection.hostKey = observedKey ?? ""
        return connection
    }

    private static func run(
        _ commands: [SSHCommand], on session: Session, become: String?, options: SSHOptions, cancel: CancellationFlag, firstOpenWithin: Duration?
    ) throws(SSHError) -> [CommandResult] {
        var results: [CommandResult] = []
        for command in commands {
            if cancel.isCancelled { throw SSHError(.cancelled, host: session.name, operation: "run command", message: "cancelled") }
            results.append(try session.exec(command, become: become, options: options, openWithin: results.isEmpty ? firstOpenWithin : nil))
        }
        return results
    }

    private static func checkReadable(_ path: String, name: String) throws(SSHError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SSHError(.keyFile, host: name, operation: "read private key \(path)", message: "the file does not exist or is not readable by the caulk service")
        }
    }
}
