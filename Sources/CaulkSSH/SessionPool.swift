import Foundation
import Synchronization

/// An authenticated connection to one host: its session, the session's transport and, through a
/// bastion, the bastion's session. Owned by one thread at a time: the host operation using it,
/// or (idle) the pool, which hands it to exactly one operation.
final class Connection: @unchecked Sendable {
    let session: Session
    let bastion: Session?
    /// The host key checked when it was opened.
    var hostKey: String
    var idleSince = ContinuousClock.now

    init(session: Session, bastion: Session?, hostKey: String) {
        self.session = session
        self.bastion = bastion
        self.hostKey = hostKey
    }

    /// Its waits answer to the cancellation of the operation now using it.
    func adopt(_ cancel: CancellationFlag) {
        session.cancel = cancel
        bastion?.cancel = cancel
    }

    /// The node's session first (its tunnel, if any, runs through the bastion's), then the
    /// bastion's.
    func close() {
        session.close()
        bastion?.close()
    }
}

/// Authenticated connections kept open between host operations, so the next operation on the
/// same host (same address, port, user, key and pinned host key, same bastion) skips TCP connect,
/// key exchange and authentication: what a fleet service does many times a minute (a repair's
/// steps, repeated commands). Hosts without a pinned key are never kept. A kept connection the
/// host has since closed (reboot, sshd restart) is dropped and a new one made, within the same
/// operation.
public final class SessionPool: Sendable {
    /// How long an unused connection is kept.
    public let idleTimeout: Duration
    /// Idle connections kept in all; beyond it the longest idle go first.
    public let capacity: Int

    private struct State {
        var idle: [SSHTarget: [Connection]] = [:]
        var count = 0
        var lastSweep = ContinuousClock.now
    }

    private let state = Mutex(State())

    public init(idleTimeout: Duration = .seconds(60), capacity: Int = 1024) {
        self.idleTimeout = idleTimeout
        self.capacity = max(0, capacity)
    }

    /// Connections kept now.
    public var idleCount: Int { state.withLock { $0.count } }

    /// What identifies interchangeable connections; nil for a target that must not be kept.
    static func key(_ target: SSHTarget) -> SSHTarget? {
        guard case .pinned = target.hostKey else { return nil }
        if let bastion = target.bastion, case .pinned = bastion.hostKey {} else if target.bastion != nil { return nil }
        var key = target
        key.name = ""
        return key
    }

    /// An idle connection to the host, now owned by the caller.
    func checkout(_ key: SSHTarget) -> Connection? {
        let now = ContinuousClock.now
        var stale: [Connection] = []
        let found: Connection? = state.withLock { state in
            while let connection = state.idle[key]?.popLast() {
                state.count -= 1
                if now - connection.idleSince < idleTimeout { return connection }
                stale.append(connection)
            }
            return nil
        }
        stale.forEach { $0.close() }
        return found
    }

    /// Takes back a connection after a clean operation; closes what has idled too long or does
    /// not fit.
    func checkin(_ connection: Connection, key: SSHTarget) {
        let now = ContinuousClock.now
        connection.idleSince = now
        let closing: [Connection] = state.withLock { state in
            state.idle[key, default: []].append(connection)
            state.count += 1
            guard now - state.lastSweep > .seconds(5) || state.count > capacity else { return [] }
            return Self.expire(&state, now: now, idleTimeout: idleTimeout, capacity: capacity)
        }
        closing.forEach { $0.close() }
    }

    /// Closes the connections idle longer than `idleTimeout`, so none outlives it by much even
    /// when no operation comes (`SSHExecutor` calls it on its own threads).
    public func sweep() {
        let closing = state.withLock { state in Self.expire(&state, now: .now, idleTimeout: idleTimeout, capacity: capacity) }
        closing.forEach { $0.close() }
    }

    private static func expire(_ state: inout State, now: ContinuousClock.Instant, idleTimeout: Duration, capacity: Int) -> [Connection] {
        state.lastSweep = now
        var closing: [Connection] = []
        for (host, connections) in state.idle {
            closing += connections.filter { now - $0.idleSince >= idleTimeout }
            let kept = connections.filter { now - $0.idleSince < idleTimeout }
            state.idle[host] = kept.isEmpty ? nil : kept
        }
        state.count -= closing.count
        // Each host's list is in check-in order: its first is its longest idle.
        while state.count > capacity, let host = state.idle.min(by: { $0.value[0].idleSince < $1.value[0].idleSince })?.key {
            closing.append(state.idle[host]!.removeFirst())
            if state.idle[host]!.isEmpty { state.idle[host] = nil }
            state.count -= 1
        }
        return closing
    }

    /// Closes every idle connection (shutdown, tests).
    public func drain() {
        let all: [Connection] = state.withLock { state in
            defer { state = State() }
            return state.idle.values.flatMap { $0 }
        }
        all.forEach { $0.close() }
    }
}
