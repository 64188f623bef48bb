import CoreMetrics
import NIOPosix

/// One host's work in a fan-out.
public struct SSHJob: Sendable {
    public var target: SSHTarget
    public var commands: [SSHCommand]

    public init(target: SSHTarget, commands: [SSHCommand]) {
        self.target = target
        self.commands = commands
    }
}

/// Runs host operations on many hosts at once with bounded concurrency.
///
/// Blocking libssh2 work runs on this executor's own threads (an `NIOThreadPool`), never on
/// Swift's cooperative pool. Each host yields its own outcome, as soon as it is done, so one
/// slow or dead host costs only its own timeouts.
public final class SSHExecutor: Sendable {
    private let pool: NIOThreadPool
    /// At most `threads` host operations at once (the executor's SSH budget), shared by runs in turn.
    private let gate: FairGate
    public let threads: Int
    /// Connections kept between operations, if any.
    public let sessions: SessionPool?

    /// Closes kept connections that have idled out, on the executor's own threads.
    private let sweeper: Task<Void, Never>?
    /// `caulk_ssh_operations_total`, `caulk_ssh_errors_total{kind}` and the slots in use, by `name`.
    private let metrics: any MetricsFactory
    private let name: String
    private let busy: Meter

    /// `sweeps`: whether this executor closes `sessions`' idled-out connections; of several
    /// executors sharing one pool of connections, one is enough. `name` tells this budget's
    /// metrics from another's.
    public init(
        threads: Int = 64, sessions: SessionPool? = nil, sweeps: Bool = true, name: String = "runs",
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.threads = max(1, threads)
        self.sessions = sessions
        self.metrics = metrics
        self.name = name
        busy = Meter(label: "caulk_ssh_slots_busy", dimensions: [("budget", name)], factory: metrics)
        Meter(label: "caulk_ssh_slots", dimensions: [("budget", name)], factory: metrics).set(self.threads)
        gate = FairGate(capacity: self.threads)
        let pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
        self.pool = pool
        sweeper = (sweeps ? sessions : nil).map { sessions in
            Task {
                let interval = max(.seconds(1), sessions.idleTimeout / 4)
                while (try? await Task.sleep(for: interval)) != nil {
                    try? await pool.runIfActive { sessions.sweep() }
                }
            }
        }
    }

    public func shutdown() async throws {
        sweeper?.cancel()
        try await pool.shutdownGracefully()
        sessions?.drain()
    }

    /// One host operation on a pool thread, once `run` (the run it is for) has its turn at a slot
    /// of the budget; cancelling the calling task stops it at its next wait.
    public func run(_ job: SSHJob, options: SSHOptions = SSHOptions(), run: Int64 = 0) async -> HostOutcome {
        guard await gate.enter(Int(truncatingIfNeeded: run)) else {
            return HostOutcome(
                target: job.target, hostKey: nil,
                result: .failure(SSHError(.cancelled, host: job.target.name, operation: "schedule", message: "cancelled while waiting for an SSH slot")),
                duration: .zero)
        }
        busy.increment()
        defer {
            gate.leave()
            busy.decrement()
        }
        let outcome = await operate(job, options: options)
        Counter(label: "caulk_ssh_operations_total", dimensions: [("budget", name)], factory: metrics).increment()
        if case .failure(let error) = outcome.result {
            Counter(label: "caulk_ssh_errors_total", dimensions: [("budget", name), ("kind", error.summary)], factory: metrics).increment()
        }
        return outcome
    }

    private func operate(_ job: SSHJob, options: SSHOptions) async -> HostOutcome {
        let cancel = CancellationFlag()
        return await withTaskCancellationHandler {
            do {
                return try await pool.runIfActive {
                    HostOperation.run(job.target, commands: job.commands, options: options, cancel: cancel, pool: self.sessions)
                }
            } catch {
                return HostOutcome(
                    target: job.target, hostKey: nil,
                    result: .failure(SSHError(.cancelled, host: job.target.name, operation: "schedule", message: "the SSH thread pool is shut down")),
                    duration: .zero)
            }
        } onCancel: {
            cancel.cancel()
        }
    }

    /// Runs every job for run `run`, at most `concurrency` at a time and within the executor's
    /// budget (taking turns with other runs), yielding each outcome as it finishes. Ending the
    /// iteration early (or cancelling the consumer) stops new connections and makes running
    /// operations close their channels at their next wait.
    public func fanOut(_ jobs: [SSHJob], concurrency: Int = 64, options: SSHOptions = SSHOptions(), run: Int64 = 0) -> AsyncStream<HostOutcome> {
        let (stream, continuation) = AsyncStream.makeStream(of: HostOutcome.self)
        let width = max(1, concurrency)
        let task = Task {
            await withTaskGroup(of: HostOutcome.self) { group in
                var pending = jobs.makeIterator()
                var running = 0
                while running < width, let job = pending.next() {
                    group.addTask { await self.run(job, options: options, run: run) }
                    running += 1
                }
                while let outcome = await group.next() {
                    continuation.yield(outcome)
                    if !Task.isCancelled, let job = pending.next() {
                        group.addTask { await self.run(job, options: options, run: run) }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
