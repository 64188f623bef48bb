import Synchronization
import Testing

@testable import CaulkDomain

/// Background jobs are child tasks of the service that runs `BackgroundRuns.run()`: stopping it
/// stops them, and nothing starts once it has stopped.
@Suite struct BackgroundRunsTests {
    final class Probe: Sendable {
        let events = Mutex<[String]>([])
        func note(_ event: String) { events.withLock { $0.append(event) } }
        var seen: [String] { events.withLock { $0 } }
    }

    @Test func jobsRunUnderRunAndAreCancelledWithIt() async throws {
        let background = BackgroundRuns(attached: true)
        let probe = Probe()
        // Queued before anyone runs `run()`: it waits for it.
        background.add {
            probe.note("started")
            do {
                try await Task.sleep(for: .seconds(60))
                probe.note("slept")
            } catch {
                probe.note("cancelled")
            }
        }
        #expect(probe.seen.isEmpty, "an attached job started outside run()")
        let service = Task { await background.run() }
        while probe.seen.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        service.cancel()
        await service.value
        #expect(probe.seen == ["started", "cancelled"])
        await background.waitForAll()

        background.add { probe.note("after the stop") }
        await background.waitForAll()
        #expect(!probe.seen.contains("after the stop"), "a job started after the service stopped")
    }

    @Test func withoutRunJobsStartOnTheirOwnAndCanBeWaitedForOrCancelled() async throws {
        let background = BackgroundRuns()
        let probe = Probe()
        for index in 0..<3 { background.add { probe.note("job \(index)") } }
        await background.waitForAll()
        #expect(probe.seen.sorted() == ["job 0", "job 1", "job 2"])

        background.add {
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                probe.note("cancelled")
            }
        }
        await background.cancelAll()
        #expect(probe.seen.last == "cancelled")
    }
}
