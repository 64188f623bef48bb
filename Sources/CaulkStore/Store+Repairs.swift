import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// The plan: each node the repair will touch (or cannot), committed before anything runs.
    /// The audit a repair has started from, recorded before that audit touches a node.
    public func linkAuditBefore(runId: Int64, auditId: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE runs SET audit_before_id = ? WHERE id = ?", arguments: [auditId, runId])
        }
    }

    public func recordRepairPlan(runId: Int64, auditBeforeId: Int64, nodes: [RepairNodeRecord]) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE runs SET audit_before_id = ?, host_count = ? WHERE id = ?", arguments: [auditBeforeId, nodes.count, runId])
            for var node in nodes { try node.insert(db) }
        }
    }

    /// A node's progress through the rollout.
    public func updateRepairNode(runId: Int64, node: String, outcome: RepairNodeOutcome, reason: String?, startedAt: Date? = nil, finishedAt: Date? = nil) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE repair_nodes SET outcome = ?, reason = ?, started_at = coalesce(?, started_at), finished_at = coalesce(?, finished_at)
                    WHERE run_id = ? AND node_name = ?
                    """,
                arguments: [outcome, reason, startedAt, finishedAt, runId, node])
        }
    }

    /// Nodes the repair will not touch, and why, in one transaction.
    public func skipRepairNodes(runId: Int64, nodes: [String], reason: String) async throws {
        try await writer.write { db in
            for node in nodes {
                try db.execute(
                    sql: "UPDATE repair_nodes SET outcome = 'skipped', reason = ? WHERE run_id = ? AND node_name = ?", arguments: [reason, runId, node])
            }
        }
    }

    public func recordRepairStep(_ step: RepairStepRecord) async throws {
        try await writer.write { db in
            var step = step
            try step.insert(db)
        }
    }

    /// The end of a repair: its status, the audit after it and what it concluded.
    public func finishRepair(runId: Int64, status: RunStatus, auditAfterId: Int64?, summary: String, at date: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE runs SET status = ?, audit_after_id = ?, summary = ?, finished_at = ? WHERE id = ?",
                arguments: [status, auditAfterId, summary, date, runId])
        }
    }

    /// A repair's steps recorded after `after` (a `repair_steps` id), in the order they finished,
    /// without their commands and output.
    public func repairStepEvents(runId: Int64, after: Int64, limit: Int) async throws -> [RepairStepRecord] {
        try await writer.read { db in
            try RepairStepRecord.fetchAll(
                db, sql: """
                    SELECT id, run_id, node_name, host, repair, step, '' AS command, outcome, exit_status, '' AS stdout, '' AS stderr, started_at, duration_ms
                    FROM repair_steps WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?
                    """, arguments: [runId, after, limit])
        }
    }

    public func repair(runId: Int64) async throws -> (nodes: [RepairNodeRecord], steps: [RepairStepRecord]) {
        try await writer.read { db in
            let nodes = try RepairNodeRecord.filter(RepairNodeRecord.Columns.runId == runId).order(RepairNodeRecord.Columns.position).fetchAll(db)
            let steps = try RepairStepRecord.filter(RepairStepRecord.Columns.runId == runId).order(Column("id")).fetchAll(db)
            return (nodes, steps)
        }
    }

    // MARK: Auto-repair

    public func autoRepairPolicy(clusterId: Int64) async throws -> AutoRepairPolicyRecord? {
        try await writer.read { db in try AutoRepairPolicyRecord.fetchOne(db, key: clusterId) }
    }

    public func saveAutoRepairPolicy(_ policy: AutoRepairPolicyRecord, activity: ActivityRecord? = nil) async throws {
        try await writer.write { db in
            try policy.upsert(db)
            try Self.record(activity, in: db)
        }
    }

    /// A reboot for the policy to act on: it joins the cluster's pending decision (which then
    /// waits its delay again from this reboot), or starts one.
    static func scheduleAutoRepair(_ db: Database, _ decision: AutoRepairDecisionRecord) throws -> AutoRepairDecisionRecord {
        if var pending = try AutoRepairDecisionRecord
            .filter(AutoRepairDecisionRecord.Columns.clusterName == decision.clusterName && AutoRepairDecisionRecord.Columns.decision == "pending")
            .fetchOne(db)
        {
            pending.reboots += 1
            pending.dueAt = max(pending.dueAt, decision.dueAt)
            pending.rebootEventId = decision.rebootEventId
            pending.nodeName = decision.nodeName
            try pending.update(db)
            return pending
        }
        var decision = decision
        try decision.insert(db)
        return decision
    }

    public func dueAutoRepairs(at date: Date) async throws -> [AutoRepairDecisionRecord] {
        try await writer.read { db in
            try AutoRepairDecisionRecord
                .filter(AutoRepairDecisionRecord.Columns.decision == "pending" && AutoRepairDecisionRecord.Columns.dueAt <= date)
                .order(AutoRepairDecisionRecord.Columns.dueAt)
                .fetchAll(db)
        }
    }

    /// Moves a decision from pending to running; false when someone else already took it.
    public func claimAutoRepair(id: Int64) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE auto_repair_decisions SET decision = 'running' WHERE id = ? AND decision = 'pending'", arguments: [id])
            return db.changesCount == 1
        }
    }

    public func decideAutoRepair(id: Int64, decision: AutoRepairOutcome, reason: String, auditRunId: Int64?, repairRunId: Int64?, at date: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE auto_repair_decisions SET decision = ?, reason = ?, audit_run_id = coalesce(?, audit_run_id),
                    repair_run_id = coalesce(?, repair_run_id), decided_at = ? WHERE id = ?
                    """,
                arguments: [decision, reason, auditRunId, repairRunId, date, id])
        }
    }

    public func autoRepairDecisions(cluster: String?, within: [String]? = nil, before: Int64?, limit: Int) async throws -> [AutoRepairDecisionRecord] {
        try await writer.read { db in
            var request = AutoRepairDecisionRecord.order(AutoRepairDecisionRecord.Columns.id.desc).limit(limit)
            if let within { request = request.filter(within.contains(AutoRepairDecisionRecord.Columns.clusterName)) }
            if let cluster { request = request.filter(AutoRepairDecisionRecord.Columns.clusterName == cluster) }
            if let before { request = request.filter(AutoRepairDecisionRecord.Columns.id < before) }
            return try request.fetchAll(db)
        }
    }

    /// Repairs (not dry runs) the policy started for the cluster since `date`.
    public func autoRepairCount(cluster: String, since date: Date) async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM runs WHERE cluster_name = ? AND kind = 'repair' AND trigger = 'auto' AND started_at >= ? AND dry_run = 0",
                arguments: [cluster, date]) ?? 0
        }
    }
}
