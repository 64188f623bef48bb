import Synchronization

/// The SSH budget of one executor: at most `capacity` host operations at once, handed out to the
/// runs that want them in turn. A run waiting for a slot gets the next one free before a run that
/// already had one gets another, so ten audits started together (`caulk audit --all`, a
/// schedule over every cluster) share the budget evenly whatever concurrency each asked for, and
/// an audit started later is not queued behind everything the earlier ones asked for.
final class FairGate: Sendable {
    let capacity: Int
    private let state = Mutex(State())

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var inUse = 0
        var lastId: UInt64 = 0
        /// Each tenant's waiters, first come first.
        var waiting: [Int: [Waiter]] = [:]
        /// Tenants with waiters, whose turn is next first.
        var turns: [Int] = []
        /// Waiters cancelled before they were queued.
        var cancelled: Set<UInt64> = []
    }

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Waits for a slot for `tenant` (a run); false, holding none, when the task is cancelled first.
    func enter(_ tenant: Int) async -> Bool {
        let id: UInt64? = state.withLock { state in
            if state.inUse < capacity && state.turns.isEmpty {
                state.inUse += 1
                return nil
            }
            state.lastId += 1
            return state.lastId
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now: Bool? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return false }
                    // A slot came free between the first look and now.
                    if state.inUse < capacity && state.turns.isEmpty {
                        state.inUse += 1
                        return true
                    }
                    state.waiting[tenant, default: []].append(Waiter(id: id, continuation: continuation))
                    if !state.turns.contains(tenant) { state.turns.append(tenant) }
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                guard var queue = state.waiting[tenant], let index = queue.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                let waiter = queue.remove(at: index)
                if queue.isEmpty {
                    state.waiting[tenant] = nil
                    state.turns.removeAll { $0 == tenant }
                } else {
                    state.waiting[tenant] = queue
                }
                return waiter
            }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// Gives the slot back: to the tenant whose turn it is, if any waits.
    func leave() {
        let next: Waiter? = state.withLock { state in
            guard !state.turns.isEmpty else {
                state.inUse -= 1
                return nil
            }
            let tenant = state.turns.removeFirst()
            var queue = state.waiting[tenant] ?? []
            let waiter = queue.removeFirst()
            if queue.isEmpty {
                state.waiting[tenant] = nil
            } else {
                state.waiting[tenant] = queue
                state.turns.append(tenant)
            }
            return waiter
        }
        next?.continuation.resume(returning: true)
    }

    /// Slots in use and runs waiting, for tests and logs.
    var usage: (inUse: Int, waitingRuns: Int) {
        state.withLock { ($0.inUse, $0.turns.count) }
    }
}
