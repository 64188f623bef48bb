import CaulkAPI
import Foundation
import GRDB

/// What `startRun` did.
public enum RunStart: Sendable {
    case started(RunRecord)
    /// A run of the same kind for that cluster is still running.
    case alreadyRunning(RunRecord)
}

extension Store {
    /// Records `run` as running unless a run of its kind for its cluster is (dry runs aside), in one transaction,
    /// so two callers racing for the same cluster cannot both start.
    public func startRun(_ run: RunRecord, activity: (@Sendable (RunRecord) -> ActivityRecord?)? = nil) async throws -> RunStart {
        try await writer.write { db in
            if let running = try RunRecord
                .filter(RunRecord.Columns.kind == run.kind && RunRecord.Columns.clusterName == run.clusterName && RunRecord.Columns.status == RunStatus.running)
                .filter(Column("dry_run") == false)
                .fetchOne(db)
            {
                return .alreadyRunning(running)
            }
            var run = run
            try run.insert(db)
            try Self.record(activity?(run), in: db)
            return .started(run)
        }
    }

    /// One node's audit result and its findings, committed together as soon as the node is done.
    public func recordAuditNode(_ node: AuditNodeRecord, findings: [FindingRecord], seenAt: Date?) async throws {
        try await writer.write { db in
            var node = node
            try node.insert(db)
            for var finding in findings { try finding.insert(db) }
            try Self.markSeen(db, nodeId: node.nodeId, at: seenAt)
        }
    }

    /// Findings known only once every node is done, the node states they change, and the end of
    /// the run, worked into the report history in the same transaction.
    public func finishAudit(runId: Int64, findings: [FindingRecord], health: [String: NodeHealth], status: RunStatus, summary: String, at date: Date) async throws {
        try await writer.write { db in
            for var finding in findings { try finding.insert(db) }
            for (node, state) in health {
                try db.execute(sql: "UPDATE audit_nodes SET health = ? WHERE run_id = ? AND node_name = ?", arguments: [state, runId, node])
            }
            try db.execute(sql: "UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?", arguments: [status, summary, date, runId])
            // This run, and any other audit that ended without being worked in (one that failed as a whole).
            try Self.indexHistory(db, limit: 100)
        }
    }

    public func audit(runId: Int64) async throws -> (nodes: [AuditNodeRecord], findings: [FindingRecord]) {
        try await writer.read { db in
            let nodes = try AuditNodeRecord.filter(AuditNodeRecord.Columns.runId == runId).order(AuditNodeRecord.Columns.nodeName).fetchAll(db)
            let findings = try FindingRecord.filter(FindingRecord.Columns.runId == runId).order(Column("id")).fetchAll(db)
            return (nodes, findings)
        }
    }

    /// An audit's nodes recorded after `after` (an `audit_nodes` id), in the order they finished,
    /// each with the warning and critical checks found on it.
    public func auditNodeEvents(runId: Int64, after: Int64, limit: Int) async throws -> [(seq: Int64, node: String, health: NodeHealth, checks: [String], error: String?)] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT a.id, a.node_name, a.health, a.error, \(Self.faultChecks("a")) AS checks
                    FROM audit_nodes a WHERE a.run_id = ? AND a.id > ? ORDER BY a.id LIMIT ?
                    """, arguments: [runId, after, limit]
            ).map { row in
                (row["id"], row["node_name"], row["health"], (row["checks"] as String).split(separator: " ").map(String.init), row["error"])
            }
        }
    }

    /// The newest audit of the cluster that has finished (whatever its outcome).
    public func latestFinishedAudit(cluster: String) async throws -> RunRecord? {
        try await writer.read { db in
            try RunRecord
                .filter(RunRecord.Columns.kind == RunKind.audit && RunRecord.Columns.clusterName == cluster && RunRecord.Columns.status != RunStatus.running)
                .order(RunRecord.Columns.id.desc)
                .fetchOne(db)
        }
    }

    /// Records that the node runs boot `bootId`, and a reboot event when that is a boot not seen
    /// before: a boot already recorded (by an audit or a beacon), or one older than the last known
    /// boot (a late report), adds nothing. A node's first audit only notes its boot. When the
    /// cluster's auto-repair policy is on, the reboot is queued for it in the same transaction.
    /// Returns the event, if one was recorded.
    public func recordBoot(
        nodeId: Int64, bootId: String, bootedAt: Date?, seenAt: Date, source: String, runId: Int64?
    ) async throws -> RebootEventRecord? {
        try await writer.write { db in
            guard let node = try NodeRecord.fetchOne(db, key: nodeId) else { return nil }
            let observed = try NodeObservation.fetchOne(db, key: nodeId) ?? NodeObservation(nodeId: nodeId)
            if observed.lastBootId == bootId { return nil }
            let known = try RebootEventRecord.filter(Column("node_id") == nodeId && Column("new_boot_id") == bootId).fetchCount(db) > 0
            if known { return nil }
            // Boot times from uptime jitter by a second or two; a minute is far beyond that.
            if let last = observed.lastBootedAt, let bootedAt, bootedAt < last.addingTimeInterval(-60) { return nil }
            var now = observed
            now.lastBootId = bootId
            now.lastBootedAt = bootedAt
            try now.save(db)
            if observed.lastBootId == nil, source == "audit" { return nil }
            let cluster = try String.fetchOne(db, sql: "SELECT name FROM clusters WHERE id = ?", arguments: [node.clusterId]) ?? "?"
            var event = RebootEventRecord(
                nodeId: nodeId, clusterName: cluster, nodeName: node.name, oldBootId: observed.lastBootId, newBootId: bootId,
                bootedAt: bootedAt, seenAt: seenAt, source: source, runId: runId)
            try event.insert(db)
            if let policy = try AutoRepairPolicyRecord.fetchOne(db, key: node.clusterId), policy.enabled {
                _ = try Self.scheduleAutoRepair(db, AutoRepairDecisionRecord(
                    clusterId: node.clusterId, clusterName: cluster, rebootEventId: event.id, nodeName: node.name,
                    dueAt: seenAt.addingTimeInterval(TimeInterval(policy.delaySeconds)), createdAt: seenAt))
            }
            return event
        }
    }

    /// Reboot events, newest first, before the cursor id.
    public func rebootEvents(cluster: String?, node: String?, within: [String]? = nil, before: Int64?, limit: Int) async throws -> [RebootEventRecord] {
        try await writer.read { db in
            var request = RebootEventRecord.order(RebootEventRecord.Columns.id.desc).limit(limit)
            if let within { request = request.filter(within.contains(RebootEventRecord.Columns.clusterName)) }
            if let cluster { request = request.filter(RebootEventRecord.Columns.clusterName == cluster) }
            if let node { request = request.filter(RebootEventRecord.Columns.nodeName == node) }
            if let before { request = request.filter(RebootEventRecord.Columns.id < before) }
            return try request.fetchAll(db)
        }
    }
}
