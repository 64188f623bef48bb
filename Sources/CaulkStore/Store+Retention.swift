import CaulkAPI
import Foundation
import GRDB

extension RetentionClass: DatabaseValueConvertible {}

/// Retention: purging by age in small batches, each its own short write transaction, so audits
/// and repairs writing at the same time wait for no more than one batch.
extension Store {
    /// Purges one batch of `class` older than `cutoff` and returns the rows emptied or deleted,
    /// and whether this purge has nothing more to do. When everything older than `cutoff` is
    /// gone, `purged_before` moves up to it. Runs still running are never touched, nor runs
    /// after them, until they end.
    public func purgeBatch(_ kind: RetentionClass, before cutoff: Date, limit: Int, now: Date) async throws -> (rows: Int, done: Bool) {
        try await writer.write { db in
            let state = try Row.fetchOne(db, sql: "SELECT last_id FROM retention_state WHERE class = ?", arguments: [kind])
            let lastId: Int64 = state?["last_id"] ?? 0
            var rows = 0, done = false, complete = false, reached = lastId
            switch kind {
            case .output, .facts, .runs:
                // Runs in id order, which is the order they started: take those older than the
                // cutoff up to the first that is not, or still runs.
                let start = kind == .runs ? 0 : lastId
                let batch = try Row.fetchAll(
                    db, sql: "SELECT id, started_at, status FROM runs WHERE id > ? ORDER BY id LIMIT ?", arguments: [start, limit])
                var ids: [Int64] = []
                var stoppedAtRunning = false
                for row in batch {
                    guard (row["started_at"] as Date) < cutoff else { break }
                    guard (row["status"] as RunStatus) != .running else {
                        stoppedAtRunning = true
                        break
                    }
                    ids.append(row["id"])
                }
                done = ids.count < limit
                complete = done && !stoppedAtRunning
                guard let last = ids.last else { break }
                reached = last
                let list = ids.map(String.init).joined(separator: ",")
                switch kind {
                case .output:
                    try db.execute(sql: "UPDATE run_hosts SET stdout = '', stderr = '' WHERE run_id IN (\(list)) AND (stdout != '' OR stderr != '')")
                    rows = db.changesCount
                    try db.execute(sql: "UPDATE repair_steps SET stdout = '', stderr = '' WHERE run_id IN (\(list)) AND (stdout != '' OR stderr != '')")
                    rows += db.changesCount
                case .facts:
                    try db.execute(sql: "UPDATE audit_nodes SET facts = '{}' WHERE run_id IN (\(list)) AND facts != '{}'")
                    rows = db.changesCount
                default:
                    try db.execute(sql: "DELETE FROM runs WHERE id IN (\(list))")
                    rows = db.changesCount
                }
            case .findings:
                try db.execute(
                    sql: "DELETE FROM findings WHERE id IN (SELECT id FROM findings WHERE created_at < ? ORDER BY created_at LIMIT ?)", arguments: [cutoff, limit])
                rows = db.changesCount
                done = rows < limit
                complete = done
            case .events:
                try db.execute(
                    sql: "DELETE FROM reboot_events WHERE id IN (SELECT id FROM reboot_events WHERE seen_at < ? ORDER BY seen_at LIMIT ?)", arguments: [cutoff, limit])
                rows = db.changesCount
                try db.execute(
                    sql: "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE found_at < ? ORDER BY found_at LIMIT ?)", arguments: [cutoff, limit])
                rows += db.changesCount
                try db.execute(
                    sql: """
                        DELETE FROM auto_repair_decisions WHERE id IN (SELECT id FROM auto_repair_decisions
                            WHERE created_at < ? AND decision NOT IN ('pending', 'running') ORDER BY created_at LIMIT ?)
                        """, arguments: [cutoff, limit])
                rows += db.changesCount
                // Webhook events none of whose deliveries is still to be sent (their deliveries go with them).
                try db.execute(
                    sql: """
                        DELETE FROM notification_events WHERE id IN (SELECT id FROM notification_events e WHERE created_at < ?
                            AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
                            ORDER BY created_at LIMIT ?)
                        """, arguments: [cutoff, limit])
                rows += db.changesCount
                done = rows < limit
                complete = done
            case .activity:
                try db.execute(sql: "DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE at < ? ORDER BY at LIMIT ?)", arguments: [cutoff, limit])
                rows = db.changesCount
                done = rows < limit
                complete = done
            }
            try db.execute(
                sql: """
                    INSERT INTO retention_state (class, purged_before, last_id, purged_rows, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (class) DO UPDATE SET
                        purged_before = CASE WHEN excluded.purged_before IS NOT NULL AND (purged_before IS NULL OR excluded.purged_before > purged_before)
                            THEN excluded.purged_before ELSE purged_before END,
                        last_id = excluded.last_id, purged_rows = purged_rows + excluded.purged_rows, updated_at = excluded.updated_at
                    """,
                arguments: [kind, complete ? cutoff : nil, reached, rows, now])
            return (rows, done)
        }
    }

    /// How many rows a purge of `class` older than `cutoff` would empty or delete.
    public func purgeableRows(_ kind: RetentionClass, before cutoff: Date) async throws -> Int {
        try await writer.read { db in
            let lastId: Int64 = try Int64.fetchOne(db, sql: "SELECT last_id FROM retention_state WHERE class = ?", arguments: [kind]) ?? 0
            // The runs a per-run class would reach: older than the cutoff, up to the first still running.
            let runs = """
                SELECT id FROM runs WHERE id > ? AND started_at < ? AND id < coalesce(
                    (SELECT min(id) FROM runs WHERE id > ? AND (started_at >= ? OR status = 'running')), 9223372036854775807)
                """
            switch kind {
            case .output:
                return try Int.fetchOne(
                    db, sql: """
                        SELECT (SELECT count(*) FROM run_hosts WHERE run_id IN (\(runs)) AND (stdout != '' OR stderr != ''))
                            + (SELECT count(*) FROM repair_steps WHERE run_id IN (\(runs)) AND (stdout != '' OR stderr != ''))
                        """, arguments: [lastId, cutoff, lastId, cutoff, lastId, cutoff, lastId, cutoff]) ?? 0
            case .facts:
                return try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM audit_nodes WHERE run_id IN (\(runs)) AND facts != '{}'", arguments: [lastId, cutoff, lastId, cutoff]) ?? 0
            case .runs:
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(runs))", arguments: [0, cutoff, 0, cutoff]) ?? 0
            case .findings:
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM findings WHERE created_at < ?", arguments: [cutoff]) ?? 0
            case .events:
                return try Int.fetchOne(
                    db, sql: """
                        SELECT (SELECT count(*) FROM reboot_events WHERE seen_at < ?) + (SELECT count(*) FROM incidents WHERE found_at < ?)
                            + (SELECT count(*) FROM auto_repair_decisions WHERE created_at < ? AND decision NOT IN ('pending', 'running'))
                            + (SELECT count(*) FROM notification_events e WHERE created_at < ?
                                AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.event_id = e.id AND d.status = 'pending'))
                        """, arguments: [cutoff, cutoff, cutoff, cutoff]) ?? 0
            case .activity:
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM activity WHERE at < ?", arguments: [cutoff]) ?? 0
            }
        }
    }

    /// Per class, the time before which everything of it was purged.
    public func purgeHorizons() async throws -> [RetentionClass: Date] {
        try await writer.read { db in
            var horizons: [RetentionClass: Date] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT class, purged_before FROM retention_state WHERE purged_before IS NOT NULL") {
                horizons[row["class"] as RetentionClass] = row["purged_before"] as Date
            }
            return horizons
        }
    }

    /// The latest time before which any of `classes` was purged.
    public func purgedBefore(_ classes: [RetentionClass]) async throws -> Date? {
        let horizons = try await purgeHorizons()
        return classes.compactMap { horizons[$0] }.max()
    }

    /// Whether free pages go back to the file system a little at a time (auto_vacuum = INCREMENTAL).
    public func incrementalVacuumEnabled() async throws -> Bool {
        try await writer.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") == 2 }
    }

    /// Turns incremental vacuum on, which takes a full VACUUM once (a new database: at once; a
    /// large one: a while, with the file briefly needing twice its size).
    public func enableIncrementalVacuum() async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "VACUUM")
        }
    }

    /// Gives up to `pages` free pages back to the file system, then checkpoints the write-ahead
    /// log into the file and truncates it; returns how many pages were free before.
    @discardableResult
    public func incrementalVacuum(pages: Int = 100_000) async throws -> Int {
        try await writer.writeWithoutTransaction { db in
            let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            try db.execute(sql: "PRAGMA incremental_vacuum(\(max(1, pages)))")
            if path != ":memory:" { try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            return free
        }
    }

    /// The database file's size, with its write-ahead log; nil in memory.
    public func fileBytes() -> Int64? {
        guard path != ":memory:" else { return nil }
        return [path, path + "-wal"].compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int64 }.reduce(0, +)
    }
}
