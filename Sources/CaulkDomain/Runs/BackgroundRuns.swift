import Synchronization

/// Work that goes on after the request that asked for it has been answered: audits and repairs
/// started over the API, and auto-repair decisions. `caulk serve` runs `run()` under
/// swift-service-lifecycle, and every job is a child task of it: on shutdown the jobs are
/// cancelled (an audit ends `cancelled` with the nodes it finished, a repair stops between steps)
/// and `run()` returns once the last one has ended.
///
/// A service built without anyone running `run()` (the domain's own tests) starts each job as a
/// task of its own instead; `waitForAll` and `cancelAll` work the same either way.
public final class BackgroundRuns: Sendable {
    public typealias Job = @Sendable () async -> Void

    private let jobs: AsyncStream<Job>
    private let queue: AsyncStream<Job>.Continuation
    private let state: Mutex<State>

    private struct State {
        /// Jobs wait for `run()` (set for `caulk serve`, before any request is served).
        var attached: Bool
        /// `run()` has returned: the service is stopping and starts nothing more.
        var closed = false
        var inFlight = 0
        /// Handed to `run()` and not started yet.
        var queued = 0
        var idle: [CheckedContinuation<Void, Never>] = []
        /// Jobs started on their own (nobody runs `run()`).
        var loose: [Int: Task<Void, Never>] = [:]
        var nextLoose = 0
    }

    /// `attached`: jobs wait for `run()`, so none starts outside it.
    public init(attached: Bool = false) {
        (jobs, queue) = AsyncStream.makeStream()
        state = Mutex(State(attached: attached))
    }

    /// Starts `job`, or hands it to `run()`. Once the service is stopping, nothing starts: the
    /// job's run, already recorded as running, is marked interrupted at the next start.
    func add(_ job: @escaping Job) {
        let (attached, closed) = state.withLock { state in
            if !state.closed {
                state.inFlight += 1
                if state.attached { state.queued += 1 }
            }
            return (state.attached, state.closed)
        }
        guard !closed else { return }
        if attached {
            queue.yield { [self] in
                state.withLock { $0.queued -= 1 }
                await job()
                finished()
            }
        } else {
            state.withLock { loose in
                let key = loose.nextLoose
                loose.nextLoose += 1
                loose.loose[key] = Task { [self] in
                    await job()
                    state.withLock { $0.loose[key] = nil }
                    finished()
                }
            }
        }
    }

    /// Runs every job as a child task until the calling task is cancelled, then waits for the
    /// jobs, which that cancelled too.
    public func run() async {
        state.withLock { $0.attached = true }
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask { await job() }
            }
        }
        // Jobs still queued when the stream ended never start.
        settle { state in
            state.closed = true
            state.inFlight -= state.queued
            state.queued = 0
        }
        queue.finish()
    }

    /// Returns once no job is running.
    func waitForAll() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                guard state.inFlight > 0 else { return true }
                state.idle.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Cancels the jobs started on their own and waits for every job. (Jobs under `run()` are
    /// cancelled with it.)
    func cancelAll() async {
        for task in state.withLock({ Array($0.loose.values) }) { task.cancel() }
        await waitForAll()
    }

    private func finished() {
        settle { $0.inFlight -= 1 }
    }

    /// Applies `change`; when no job is left, wakes whoever waits for that.
    private func settle(_ change: (inout State) -> Void) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state)
            guard state.inFlight == 0 else { return [] }
            defer { state.idle = [] }
            return state.idle
        }
        for continuation in waiting { continuation.resume() }
    }
}
