import Synchronization

/// A point in time an operation must not run past.
struct Deadline {
    let instant: ContinuousClock.Instant

    init(after duration: Duration) { instant = .now + duration }
    init(_ instant: ContinuousClock.Instant) { self.instant = instant }

    var expired: Bool { ContinuousClock.now >= instant }

    /// Milliseconds left, for poll(2); at least 0, at most `cap`. The cap is how often a waiting
    /// operation looks at its cancellation flag.
    func remainingMilliseconds(cap: Int32 = 500) -> Int32 {
        let left = instant - .now
        guard left > .zero else { return 0 }
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: min(Int64(cap), max(1, ms)))
    }

    static func earliest(_ a: Deadline, _ b: Deadline) -> Deadline { a.instant < b.instant ? a : b }
}

/// Set once when the caller gives up; blocking loops look at it between waits.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
