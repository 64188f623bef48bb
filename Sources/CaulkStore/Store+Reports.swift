import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// Reboot events seen in `[since, until)`, counted per group. A reboot is grouped by what the
    /// node ran at the time: the audit that noticed it, or else the node's first audit after it.
    public func rebootReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        guard let key = Self.reportKey(groupBy, time: "e.seen_at", cluster: "e.cluster_name", check: nil) else {
            throw StoreError.unsupported("reboots cannot be grouped by \(groupBy.rawValue)")
        }
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "e.cluster_name")
        let sql = """
            WITH events AS (
                SELECT e.*, coalesce(
                    (SELECT a.id FROM audit_nodes a WHERE a.run_id = e.run_id AND a.node_name = e.node_name),
                    (SELECT a.id FROM audit_nodes a WHERE a.node_id = e.node_id AND a.finished_at >= e.seen_at ORDER BY a.finished_at LIMIT 1)
                ) AS audit_node_id
                FROM reboot_events e
                WHERE e.seen_at >= ? AND e.seen_at < ? \(clusterFilter)
            )
            SELECT \(key) AS grp, count(*) AS reboots, count(DISTINCT e.cluster_name || '/' || e.node_name) AS nodes,
                count(DISTINCT e.cluster_name) AS clusters
            FROM events e LEFT JOIN audit_nodes a ON a.id = e.audit_node_id
            GROUP BY grp ORDER BY grp
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                [.string(row["grp"]), .int(row["reboots"]), .int(row["nodes"]), .int(row["clusters"])]
            }
        }
    }

    /// Findings at warning or above made in `[since, until)`, per group: how many, on how many
    /// nodes (the cluster counts as one where a finding is about it as a whole), and how many
    /// distinct faults (cluster, node, check) the cluster's latest finished audit still shows
    /// (open) or no longer does (resolved).
    public func findingReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        guard let key = Self.reportKey(groupBy, time: "s.created_at", cluster: "s.cluster_name", check: "s.check_id") else {
            throw StoreError.unsupported("findings cannot be grouped by \(groupBy.rawValue)")
        }
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "f.cluster_name")
        let sql = """
            WITH latest AS (
                SELECT cluster_name, max(id) AS run_id FROM runs WHERE kind = 'audit' AND status != 'running' GROUP BY cluster_name
            ),
            still AS (
                SELECT DISTINCT f.cluster_name, f.check_id, coalesce(f.node_name, '') AS node
                FROM findings f JOIN latest l ON l.run_id = f.run_id WHERE f.severity != 'info'
            ),
            seen AS (
                SELECT f.*, coalesce(f.node_name, '') AS node FROM findings f
                WHERE f.severity != 'info' AND f.created_at >= ? AND f.created_at < ? \(clusterFilter)
            )
            SELECT \(key) AS grp, count(*) AS findings, count(DISTINCT s.cluster_name || '/' || s.node) AS nodes,
                count(DISTINCT CASE WHEN o.check_id IS NOT NULL THEN s.cluster_name || '/' || s.node || '/' || s.check_id END) AS open,
                count(DISTINCT CASE WHEN o.check_id IS NULL THEN s.cluster_name || '/' || s.node || '/' || s.check_id END) AS resolved
            FROM seen s
            LEFT JOIN still o ON o.cluster_name = s.cluster_name AND o.check_id = s.check_id AND o.node = s.node
            LEFT JOIN audit_nodes a ON a.run_id = s.run_id AND a.node_name = s.node_name
            GROUP BY grp ORDER BY grp
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                [.string(row["grp"]), .int(row["findings"]), .int(row["nodes"]), .int(row["open"]), .int(row["resolved"])]
            }
        }
    }

    /// The SQL a group's label comes from, with `a` the audit node of the time; nil where the
    /// report has no such thing (no check for reboots) or caulk does not record it (the OS).
    static func reportKey(_ group: ReportGroup, time: String, cluster: String, check: String?) -> String? {
        switch group {
        case .cluster: cluster
        case .day: "substr(\(time), 1, 10)"
        // The Monday the week starts on.
        case .week: "date(\(time), 'weekday 0', '-6 days')"
        case .kernel: "coalesce(a.kernel, 'unknown')"
        case .nicDriver: "coalesce(a.nic_driver, 'unknown')"
        case .calicoVersion: "coalesce(a.calico_version, 'unknown')"
        case .encapsulation: "coalesce(a.encapsulation, 'unknown')"
        case .check: check
        case .os: nil
        }
    }

    static func clusterFilter(_ clusters: [String]?, column: String) -> (String, StatementArguments) {
        guard let clusters, !clusters.isEmpty else { return ("", []) }
        return ("AND \(column) IN (\(Array(repeating: "?", count: clusters.count).joined(separator: ", ")))", StatementArguments(clusters))
    }
}
