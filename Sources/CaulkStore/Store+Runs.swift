import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// Records one host's result and, when the host answered, that the node was seen.
    public func recordHost(_ host: RunHostRecord, nodeId: Int64?, seenAt: Date?) async throws {
        try await writer.write { db in
            var host = host
            try host.insert(db)
            try Self.markSeen(db, nodeId: nodeId, at: seenAt)
        }
    }

    /// Notes when a node last answered, if it did.
    static func markSeen(_ db: Database, nodeId: Int64?, at date: Date?) throws {
        guard let nodeId, let date else { return }
        try db.execute(
            sql: """
                INSERT INTO node_observations (node_id, last_seen_at) VALUES (?, ?)
                ON CONFLICT (node_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
                """,
            arguments: [nodeId, date])
    }

    /// Pins a node's host key.
    public func pinHostKey(nodeId: Int64, fingerprint: String, at date: Date, activity: ActivityRecord? = nil) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE nodes SET host_key = ?, updated_at = ? WHERE id = ?", arguments: [fingerprint, date, nodeId])
            try Self.record(activity, in: db)
        }
    }

    /// Marks the run finished with `status`, and why it failed when it failed as a whole.
    public func finishRun(id: Int64, status: RunStatus, error: String? = nil, at date: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE runs SET status = ?, error = coalesce(?, error), finished_at = ? WHERE id = ?", arguments: [status, error, date, id])
            // An audit that ended is worked into the report history at once.
            try Self.indexHistory(db, limit: 100)
        }
    }

    /// What asking a run to stop found.
    public enum CancelRequest: Sendable {
        /// Recorded now: the run stops at its next step boundary.
        case requested(RunRecord)
        /// Someone asked before; the run is still stopping.
        case alreadyRequested(RunRecord)
        /// The run has ended: nothing was recorded.
        case notRunning(RunRecord)
        /// A run of a kind not in `kinds`: nothing was recorded.
        case otherKind(RunRecord)
        case notFound
    }

    /// Records that `requester` asked running run `runId`, of one of `kinds`, to stop, once.
    public func requestCancel(runId: Int64, kinds: Set<RunKind>, by requester: String, at date: Date, activity: (@Sendable (RunRecord) -> ActivityRecord)? = nil) async throws -> CancelRequest {
        try await writer.write { db in
            guard var run = try RunRecord.fetchOne(db, key: runId) else { return .notFound }
            guard run.status == .running else { return .notRunning(run) }
            guard kinds.contains(run.kind) else { return .otherKind(run) }
            guard run.cancelledBy == nil else { return .alreadyRequested(run) }
            (run.cancelledBy, run.cancelRequestedAt) = (requester, date)
            try db.execute(sql: "UPDATE runs SET cancelled_by = ?, cancel_requested_at = ? WHERE id = ?", arguments: [requester, date, runId])
            try Self.record(activity?(run), in: db)
            return .requested(run)
        }
    }

    /// Who asked run `runId` to stop, if anyone has.
    public func cancelRequester(runId: Int64) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT cancelled_by FROM runs WHERE id = ?", arguments: [runId]) }
    }

    /// Runs left `running` by a process that died: they are `interrupted`, keeping the hosts (and
    /// repair steps) they finished; a repair's node that was mid-way is `failed`, those not reached
    /// `skipped`, and an auto-repair decision that was acting is `failed`. Returns the runs and
    /// decisions as they are now.
    @discardableResult
    public func markInterruptedRuns(at date: Date) async throws -> Interrupted {
        try await writer.write { db in
            let cut = Self.interruptedReason
            let runIds = try Int64.fetchAll(db, sql: "SELECT id FROM runs WHERE status = 'running'")
            let decisionIds = try Int64.fetchAll(db, sql: "SELECT id FROM auto_repair_decisions WHERE decision = 'running'")
            try db.execute(
                sql: """
                    UPDATE repair_nodes SET outcome = CASE outcome WHEN 'running' THEN 'failed' ELSE 'skipped' END, reason = ?,
                        finished_at = ? WHERE outcome IN ('running', 'pending') AND run_id IN (SELECT id FROM runs WHERE status = 'running')
                    """,
                arguments: [cut, date])
            try db.execute(
                sql: "UPDATE auto_repair_decisions SET decision = 'failed', reason = ?, decided_at = ? WHERE decision = 'running'",
                arguments: [cut, date])
            try db.execute(sql: "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", arguments: [date])
            return Interrupted(
                runs: try RunRecord.fetchAll(db, keys: runIds), decisions: try AutoRepairDecisionRecord.fetchAll(db, keys: decisionIds))
        }
    }

    /// Why a run or decision left behind by a process that died ended.
    public static let interruptedReason = "caulk stopped while the repair ran"

    /// What `markInterruptedRuns` ended.
    public struct Interrupted: Sendable {
        public var runs: [RunRecord]
        public var decisions: [AutoRepairDecisionRecord]
    }

    public func runRecord(id: Int64) async throws -> RunRecord? {
        try await writer.read { db in try RunRecord.fetchOne(db, key: id) }
    }

    public func run(id: Int64) async throws -> (RunRecord, [RunHostRecord])? {
        try await writer.read { db in
            guard let run = try RunRecord.fetchOne(db, key: id) else { return nil }
            let hosts = try RunHostRecord.filter(RunHostRecord.Columns.runId == id).order(RunHostRecord.Columns.nodeName).fetchAll(db)
            return (run, hosts)
        }
    }

    /// Runs, newest first, before the cursor id.
    public func runs(cluster: String?, kind: RunKind?, within: [String]? = nil, before: Int64?, limit: Int) async throws -> [RunRecord] {
        try await writer.read { db in
            var request = RunRecord.order(RunRecord.Columns.id.desc).limit(limit)
            if let within { request = request.filter(within.contains(RunRecord.Columns.clusterName)) }
            if let cluster { request = request.filter(RunRecord.Columns.clusterName == cluster) }
            if let kind { request = request.filter(RunRecord.Columns.kind == kind) }
            if let before { request = request.filter(RunRecord.Columns.id < before) }
            return try request.fetchAll(db)
        }
    }

    /// Per-outcome host counts of each run so far (exec: ok/failed/…, audit: healthy/broken/…, repair:
    /// recovered/failed/…), in one query.
    public func runOutcomeCounts(ids: [Int64]) async throws -> [Int64: [String: Int]] {
        guard !ids.isEmpty else { return [:] }
        return try await writer.read { db in
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db, sql: """
                    SELECT run_id, outcome, count(*) AS n FROM run_hosts WHERE run_id IN (\(placeholders)) GROUP BY run_id, outcome
                    UNION ALL
                    SELECT run_id, health, count(*) FROM audit_nodes WHERE run_id IN (\(placeholders)) GROUP BY run_id, health
                    UNION ALL
                    SELECT run_id, outcome, count(*) FROM repair_nodes WHERE run_id IN (\(placeholders)) GROUP BY run_id, outcome
                    """,
                arguments: StatementArguments(ids + ids + ids))
            var counts: [Int64: [String: Int]] = [:]
            for row in rows { counts[row["run_id"], default: [:]][row["outcome"]] = row["n"] as Int }
            return counts
        }
    }
}
