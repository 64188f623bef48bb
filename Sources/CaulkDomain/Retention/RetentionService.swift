import CaulkAPI
import CaulkStore
import Foundation
import Logging

/// How long each class of data is kept: `caulk serve`'s `retention:` settings.
public struct RetentionPolicy: Sendable, Equatable {
    /// Days per class; a class left out (or 0 in the config) is kept forever.
    public var keepDays: [RetentionClass: Int]

    /// Step output 90 days (it is most of the file), everything else two years.
    public static let defaults = RetentionPolicy(keepDays: [.output: 90, .facts: 730, .findings: 730, .runs: 730, .events: 730, .activity: 730])

    public init(keepDays: [RetentionClass: Int]) {
        self.keepDays = keepDays
    }
}

/// Applies the retention policy: in the background every `interval`, and on demand
/// (`caulk admin purge`), in batches of `batchSize` rows (or a 25th as many runs, for what is
/// kept per run) with a pause between them, then gives the freed pages back to the file system
/// (incremental vacuum).
public struct RetentionService: Sendable {
    let store: Store
    public let policy: RetentionPolicy
    let clock: @Sendable () -> Date
    let batchSize: Int
    let pause: Duration

    public init(
        store: Store, policy: RetentionPolicy = .defaults, batchSize: Int = 500, pause: Duration = .milliseconds(2),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.policy = policy
        self.batchSize = batchSize
        self.pause = pause
        self.clock = clock
    }

    /// What a purge now would remove (`dryRun`), or removes it. A purge someone asked for
    /// (`actor`) is in the activity log from its start: it takes many transactions.
    public func purge(dryRun: Bool, by actor: String? = nil) async throws -> PurgeResult {
        let now = clock()
        if let actor, !dryRun {
            let keep = policy.keepDays.map { ("keep_\($0.key.rawValue)_days", String($0.value)) }
            _ = try await store.insert(ActivityLog(store: store, clock: clock).entry(
                actor, .retentionPurge, cluster: nil, target: "retention", after: Dictionary(keep, uniquingKeysWith: { first, _ in first })))
        }
        let before = store.fileBytes()
        let horizons = try await store.purgeHorizons()
        var classes: [RetentionPurge] = []
        // Per-run payloads first, then whole runs, so a batch never empties what it then deletes.
        for kind in [RetentionClass.output, .facts, .findings, .runs, .events, .activity] {
            guard let days = policy.keepDays[kind], days > 0 else {
                classes.append(RetentionPurge(class: kind, keepDays: nil, cutoff: nil, rows: 0, purgedBefore: horizons[kind]))
                continue
            }
            let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
            var rows = 0
            if dryRun {
                rows = try await store.purgeableRows(kind, before: cutoff)
            } else {
                while true {
                    try Task.checkCancellation()
                    // Output, facts and runs go a few runs at a time: one run can hold thousands of rows.
                    let perRun = kind == .output || kind == .facts || kind == .runs
                    let batch = try await store.purgeBatch(kind, before: cutoff, limit: perRun ? max(1, batchSize / 25) : batchSize, now: now)
                    rows += batch.rows
                    if batch.done { break }
                    try await Task.sleep(for: pause)
                }
            }
            classes.append(RetentionPurge(class: kind, keepDays: days, cutoff: cutoff, rows: rows, purgedBefore: dryRun ? horizons[kind] : nil))
        }
        if !dryRun {
            try await store.incrementalVacuum()
            let after = try await store.purgeHorizons()
            for index in classes.indices { classes[index].purgedBefore = after[classes[index].class] }
        }
        return PurgeResult(dryRun: dryRun, classes: classes, fileBytesBefore: before, fileBytesAfter: dryRun ? before : store.fileBytes())
    }

    /// Purges every `interval` until cancelled; the first pass a minute after start, so a
    /// restart does not begin with a long write.
    public func run(every interval: Duration = .seconds(3600), logger: Logger) async {
        var wait: Duration = .seconds(60)
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: wait)
            } catch {
                return
            }
            wait = interval
            do {
                let result = try await purge(dryRun: false)
                let purged = result.classes.filter { $0.rows > 0 }
                if !purged.isEmpty {
                    logger.info(
                        "retention purged \(purged.map { "\($0.rows) \($0.class.rawValue)" }.joined(separator: ", ")); file \(result.fileBytesBefore ?? 0) → \(result.fileBytesAfter ?? 0) bytes")
                }
            } catch is CancellationError {
                return
            } catch {
                logger.error("retention purge failed (it is tried again in an hour): \(error)")
            }
        }
    }
}
