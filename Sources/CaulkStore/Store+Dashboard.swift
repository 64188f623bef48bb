import CaulkAPI
import Foundation
import GRDB

/// One cluster on the dashboard: its latest finished audit in numbers, and its runs in flight.
public struct ClusterOverview: Sendable, Equatable {
    public var cluster: String
    public var nodes: Int
    /// nil: never audited to the end.
    public var state: ClusterState?
    public var auditedAt: Date?
    public var healthy = 0, degraded = 0, broken = 0, unreachable = 0
    /// Warning and critical findings of that audit.
    public var critical = 0, warnings = 0
    public var running = 0
}

extension Store {
    /// Every cluster with its latest finished audit's state, node verdicts and findings, and
    /// how many of its runs are running. One query; each cluster's latest audit is found by
    /// walking the (kind, cluster, id) index backwards.
    public func fleetOverview() async throws -> [ClusterOverview] {
        let sql = """
            WITH latest AS (
                SELECT c.id, c.name, \(Self.latestAudit("c.name")) AS run_id
                FROM clusters c
            )
            SELECT l.name, (SELECT count(*) FROM nodes n WHERE n.cluster_id = l.id) AS nodes,
                json_extract(r.summary, '$.state') AS state, r.finished_at,
                (SELECT count(*) FROM audit_nodes a WHERE a.run_id = l.run_id AND a.health = 'healthy') AS healthy,
                (SELECT count(*) FROM audit_nodes a WHERE a.run_id = l.run_id AND a.health = 'degraded') AS degraded,
                (SELECT count(*) FROM audit_nodes a WHERE a.run_id = l.run_id AND a.health = 'broken') AS broken,
                (SELECT count(*) FROM audit_nodes a WHERE a.run_id = l.run_id AND a.health = 'unreachable') AS unreachable,
                (SELECT count(*) FROM findings f WHERE f.run_id = l.run_id AND f.severity = 'critical') AS critical,
                (SELECT count(*) FROM findings f WHERE f.run_id = l.run_id AND f.severity = 'warning') AS warnings,
                (SELECT count(*) FROM runs w WHERE w.status = 'running' AND w.cluster_name = l.name) AS running
            FROM latest l LEFT JOIN runs r ON r.id = l.run_id
            ORDER BY l.name
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql).map { row in
                ClusterOverview(
                    cluster: row["name"], nodes: row["nodes"], state: (row["state"] as String?).flatMap(ClusterState.init(rawValue:)),
                    auditedAt: row["finished_at"], healthy: row["healthy"], degraded: row["degraded"], broken: row["broken"],
                    unreachable: row["unreachable"], critical: row["critical"], warnings: row["warnings"], running: row["running"])
            }
        }
    }

    /// Warning and critical findings of every cluster's latest finished audit, counted by check
    /// and severity (the fleet as it stands, for metrics).
    public func latestFindingCounts() async throws -> [(check: String, severity: String, count: Int)] {
        let sql = """
            WITH latest AS (SELECT \(Self.latestAudit("c.name")) AS run_id FROM clusters c)
            SELECT f.check_id, f.severity, count(*) AS n FROM latest l JOIN findings f ON f.run_id = l.run_id
            WHERE f.severity IN ('warning', 'critical') GROUP BY f.check_id, f.severity ORDER BY f.check_id, f.severity
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql).map { (check: $0["check_id"], severity: $0["severity"], count: $0["n"]) }
        }
    }

    /// Runs in flight, oldest first.
    public func runningRuns(limit: Int) async throws -> [RunRecord] {
        try await writer.read { db in
            try RunRecord.filter(RunRecord.Columns.status == RunStatus.running).order(RunRecord.Columns.id).limit(limit).fetchAll(db)
        }
    }
}
