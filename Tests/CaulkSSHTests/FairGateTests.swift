import Foundation
import Synchronization
import Testing

@testable import CaulkSSH

/// The SSH budget is shared by runs in turn, never exceeded, and a run cancelled while it waits
/// takes no slot.
@Suite struct FairGateTests {
    final class Order: Sendable {
        private let items = Mutex<[String]>([])
        func append(_ item: String) { items.withLock { $0.append(item) } }
        var all: [String] { items.withLock { $0 } }
    }

    /// Waits until `condition` holds (the tasks have queued), at most 5 s.
    func until(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }

    @Test func runsWaitingTakeTurnsInsteadOfFirstComeFirstServed() async throws {
        let gate = FairGate(capacity: 2)
        let (one, two) = (await gate.enter(1), await gate.enter(1))
        #expect(one && two, "run 1 takes both slots")
        let order = Order()
        var waiting: [Task<Void, Never>] = []
        // Run 1 asks for two more, then run 2 for two: run 1 asked first, but they alternate.
        for (run, name) in [(1, "1c"), (1, "1d"), (2, "2a"), (2, "2b")] {
            waiting.append(Task {
                if await gate.enter(run) { order.append(name) }
            })
            try await until { order.all.isEmpty && gate.usage.waitingRuns == (run == 1 ? 1 : 2) }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(gate.usage.inUse == 2)
        for expected in 1...4 {
            gate.leave()
            try await until { order.all.count == expected }
            #expect(gate.usage.inUse == 2, "a slot given back goes straight to the next waiter")
        }
        #expect(order.all == ["1c", "2a", "1d", "2b"])
        for _ in 0..<2 { gate.leave() }
        #expect(gate.usage.inUse == 0 && gate.usage.waitingRuns == 0)
        for task in waiting { await task.value }
    }

    @Test func aRunCancelledWhileWaitingTakesNoSlot() async throws {
        let gate = FairGate(capacity: 1)
        let entered = await gate.enter(1)
        #expect(entered)
        let waiter = Task { await gate.enter(2) }
        try await until { gate.usage.waitingRuns == 1 }
        waiter.cancel()
        let cancelled = await waiter.value
        #expect(cancelled == false)
        #expect(gate.usage.waitingRuns == 0)
        gate.leave()
        #expect(gate.usage.inUse == 0, "the slot came back, not handed to the cancelled waiter")
        // Cancelled before it even asked: refused at once, and the budget is untouched.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await gate.enter(3)
        }
        // A free slot is taken at once, cancelled or not: the caller's own work then stops.
        let got = await early.value
        #expect(got && gate.usage.inUse == 1)
        gate.leave()
    }
}
