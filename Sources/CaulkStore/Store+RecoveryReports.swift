import CaulkAPI
import Foundation
import GRDB

/// A node that went from working to faulty, and when (if ever) an audit found it healthy again.
public struct Incident: Sendable, Equatable {
    public var group: String
    public var cluster: String
    public var node: String
    /// The reboot before the first faulty audit, if one was seen since the node's previous
    /// judged audit; else that faulty audit.
    public var startedAt: Date
    public var rebooted: Bool
    /// Seconds from `startedAt` to the node's next healthy audit; nil: not healthy again yet.
    public var recoverySeconds: Int?
    /// Repairs that worked on the node in between (recovered or failed it).
    public var repairs: Int
    /// The checks that found the fault (warning or above), in order.
    public var checks: [String]
}

/// What each cluster's latest finished audit said about one node.
public struct LatestAuditNode: Sendable, Equatable {
    public var cluster: String
    public var node: String
    public var runId: Int64?
    public var playbook: String?
    /// nil: the node is in the inventory but not in that audit (or the cluster has none).
    public var health: NodeHealth?
    /// What the audit read of the node's kernel, NIC driver and VXLAN checksum offload.
    public var kernel: String?
    public var nicDriver: String?
    public var offload: String?
    public var undetermined: Bool
    public var auditedAt: Date?
}

extension Store {
    /// Incidents whose first faulty audit finished in `[since, until)` (worked out as audits
    /// finish: `Store+ReportHistory`), grouped by what that audit read of the node.
    public func incidents(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [Incident] {
        guard let key = Self.reportKey(groupBy, time: "i.found_at", cluster: "i.cluster_name", check: nil) else {
            throw StoreError.unsupported("mttr cannot be grouped by \(groupBy.rawValue)")
        }
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "i.cluster_name")
        // Repairs count from the reboot, else from the node's previous judged audit.
        let sql = """
            SELECT \(key) AS grp, i.cluster_name, i.node_name, i.started_at, i.rebooted, i.checks,
                CAST(round((julianday(i.healthy_at) - julianday(i.started_at)) * 86400) AS INTEGER) AS seconds,
                (SELECT count(*) FROM repair_nodes n WHERE n.node_id = i.node_id AND n.outcome IN ('recovered', 'failed')
                    AND n.started_at >= CASE WHEN i.rebooted THEN i.started_at ELSE coalesce(i.previous_at, i.found_at) END
                    AND (i.healthy_at IS NULL OR n.started_at <= i.healthy_at)) AS repairs
            FROM incidents i LEFT JOIN node_fact_sets x ON x.id = i.fact_set_id
            WHERE i.found_at >= ? AND i.found_at < ? \(clusterFilter)
            ORDER BY grp, i.started_at, i.cluster_name, i.node_name
            """
        return try await writer.read { db in
            try Array(Row.fetchCursor(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                Incident(
                    group: Self.group(row), cluster: row["cluster_name"], node: row["node_name"], startedAt: row["started_at"], rebooted: row["rebooted"],
                    recoverySeconds: row["seconds"], repairs: row["repairs"], checks: (row["checks"] as String).split(separator: " ").map(String.init))
            })
        }
    }

    /// Repair runs (dry runs left out) started in `[since, until)`, per group: how many, how they
    /// ended, the nodes they worked on and recovered, and the steps that failed.
    public func repairReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        guard let key = Self.reportKey(groupBy, time: "r.started_at", cluster: "r.cluster_name", check: nil, run: "r") else {
            throw StoreError.unsupported("repairs cannot be grouped by \(groupBy.rawValue)")
        }
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "r.cluster_name")
        let sql = """
            WITH repairs AS (
                SELECT \(key) AS grp, r.status,
                    (SELECT count(*) FROM repair_nodes n WHERE n.run_id = r.id AND n.outcome IN ('recovered', 'failed')) AS touched,
                    (SELECT count(*) FROM repair_nodes n WHERE n.run_id = r.id AND n.outcome = 'recovered') AS recovered,
                    (SELECT count(*) FROM repair_steps s WHERE s.run_id = r.id AND s.outcome IN ('failed', 'timed_out', 'error')) AS steps_failed
                FROM runs r
                WHERE r.kind = 'repair' AND r.dry_run = 0 AND r.started_at >= ? AND r.started_at < ? \(clusterFilter)
            )
            SELECT grp, count(*) AS runs, sum(status = 'succeeded') AS succeeded, sum(status = 'failed') AS failed,
                sum(status IN ('cancelled', 'interrupted')) AS stopped, sum(status = 'running') AS running,
                sum(touched) AS touched, sum(recovered) AS recovered, sum(steps_failed) AS steps_failed
            FROM repairs GROUP BY grp ORDER BY grp
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                let runs: Int = row["runs"], succeeded: Int = row["succeeded"], running: Int = row["running"]
                let ended = runs - running
                return [
                    .string(Self.group(row)), .int(runs), .int(succeeded), .int(row["failed"]), .int(row["stopped"]), .int(running),
                    ended == 0 ? .null : .int(Int((100 * Double(succeeded) / Double(ended)).rounded())),
                    .int(row["touched"]), .int(row["recovered"]), .int(row["steps_failed"]),
                ]
            }
        }
    }

    /// Every inventory node of the clusters (all, or those named) with what its cluster's latest
    /// finished audit said about it.
    public func latestAuditNodes(clusters: [String]?) async throws -> [LatestAuditNode] {
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "c.name")
        let sql = """
            WITH latest AS (SELECT c.id AS cluster_id, \(Self.latestAudit("c.name")) AS run_id FROM clusters c)
            SELECT c.name AS cluster, n.name AS node, l.run_id, r.playbook, a.health, a.finished_at,
                json_extract(a.facts, '$.kernel') AS kernel, json_extract(a.facts, '$.nic_driver') AS nic_driver,
                json_extract(a.facts, '$.offload') AS offload,
                a.id IS NOT NULL AND EXISTS (\(Self.undeterminedFindings("a"))) AS undetermined
            FROM nodes n JOIN clusters c ON c.id = n.cluster_id
            JOIN latest l ON l.cluster_id = c.id
            LEFT JOIN runs r ON r.id = l.run_id
            LEFT JOIN audit_nodes a ON a.run_id = l.run_id AND a.node_name = n.name
            WHERE 1 = 1 \(clusterFilter)
            ORDER BY c.name, n.name
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: clusterArguments).map { row in
                LatestAuditNode(
                    cluster: row["cluster"], node: row["node"], runId: row["run_id"], playbook: row["playbook"], health: row["health"],
                    kernel: row["kernel"], nicDriver: row["nic_driver"], offload: row["offload"], undetermined: row["undetermined"],
                    auditedAt: row["finished_at"])
            }
        }
    }

    /// The warning and critical findings of each cluster's latest finished audit.
    public func latestAuditFindings(clusters: [String]?) async throws -> [FindingRecord] {
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "f.cluster_name")
        let sql = """
            WITH latest AS (SELECT \(Self.latestAudit("c.name")) AS run_id FROM clusters c)
            SELECT f.* FROM findings f JOIN latest l ON l.run_id = f.run_id
            WHERE f.severity != 'info' \(clusterFilter)
            ORDER BY f.cluster_name, f.node_name, f.check_id
            """
        return try await writer.read { db in try FindingRecord.fetchAll(db, sql: sql, arguments: clusterArguments) }
    }

    /// A subquery for the id of the latest finished audit of the cluster named by `cluster`: the
    /// (kind, cluster_name, id) index walked backwards, stopping at the first that is not running.
    static func latestAudit(_ cluster: String) -> String {
        "(SELECT r.id FROM runs r WHERE r.kind = 'audit' AND r.cluster_name = \(cluster) AND r.status != 'running' ORDER BY r.id DESC LIMIT 1)"
    }

    /// A subquery that finds whether audit node `alias` has a finding saying the audit could not tell.
    static func undeterminedFindings(_ alias: String) -> String {
        "SELECT 1 FROM findings u WHERE u.run_id = \(alias).run_id AND u.node_name = \(alias).node_name AND u.check_id IN ('UNKNOWN', 'SSH', 'SUDO', 'IDENTITY')"
    }
}
