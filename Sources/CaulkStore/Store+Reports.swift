import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// Reboot events seen in `[since, until)`, counted per group. A reboot is grouped by what the
    /// node ran at the time: the audit that noticed it, or else the node's first audit after it.
    public func rebootReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        let (key, clusterFilter, clusterArguments) = try Self.overReboots("reboots", groupBy, clusters)
        // Grouped by the event's own columns, no audit needs looking up.
        let events = key.contains("a.") ? Self.rebootsWithTheirAudit(clusterFilter)
            : "events AS (SELECT e.*, NULL AS audit_node_id FROM reboot_events e WHERE e.seen_at >= ? AND e.seen_at < ? \(clusterFilter))"
        let sql = """
            WITH \(events)
            SELECT \(key) AS grp, count(*) AS reboots, count(DISTINCT e.cluster_name || '/' || e.node_name) AS nodes,
                count(DISTINCT e.cluster_name) AS clusters
            FROM events e LEFT JOIN audit_nodes a ON a.id = e.audit_node_id
            GROUP BY grp ORDER BY grp
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                [.string(Self.group(row)), .int(row["reboots"]), .int(row["nodes"]), .int(row["clusters"])]
            }
        }
    }

    /// Reboot events seen in `[since, until)`, per group: how many; how many an audit judged
    /// afterwards (the one that noticed the reboot, or the node's next, having reached the node);
    /// how many of those found a warning or critical fault on the node, and which checks; and how
    /// many of those the node was healthy again in a later audit. An audit that could not tell
    /// (the node unreachable, or an UNKNOWN, SSH, SUDO or IDENTITY finding on it) judges nothing:
    /// its reboot is counted, neither faulty nor fine.
    public func postRebootReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        let (key, clusterFilter, clusterArguments) = try Self.overReboots("post-reboot", groupBy, clusters)
        let sql = """
            WITH \(Self.rebootsWithTheirAudit(clusterFilter))
            SELECT \(key) AS grp, a.id AS audit_node, a.health AS health,
                EXISTS (\(Self.undeterminedFindings("a"))) AS undetermined,
                (SELECT group_concat(check_id, ' ') FROM (
                    SELECT DISTINCT f.check_id FROM findings f
                    WHERE f.run_id = a.run_id AND f.node_name = a.node_name AND f.severity != 'info'
                        ORDER BY f.check_id)) AS checks,
                EXISTS (SELECT 1 FROM audit_nodes b WHERE b.node_id = a.node_id AND b.finished_at > a.finished_at AND b.health = 'healthy') AS healthy_later
            FROM events e LEFT JOIN audit_nodes a ON a.id = e.audit_node_id
            ORDER BY grp
            """
        struct Tally {
            var reboots = 0, judged = 0, faulty = 0, recovered = 0
            var checks: [String: Int] = [:]
        }
        let tallies = try await writer.read { db in
            var tallies: [(String, Tally)] = []
            for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments) {
                let group = Self.group(row)
                if tallies.last?.0 != group { tallies.append((group, Tally())) }
                var tally = tallies[tallies.count - 1].1
                tally.reboots += 1
                if (row["audit_node"] as Int64?) != nil, (row["health"] as String?) != NodeHealth.unreachable.rawValue, !(row["undetermined"] as Bool) {
                    tally.judged += 1
                    let checks = (row["checks"] as String?)?.split(separator: " ").map(String.init) ?? []
                    if !checks.isEmpty {
                        tally.faulty += 1
                        if row["healthy_later"] as Bool { tally.recovered += 1 }
                        for check in checks { tally.checks[check, default: 0] += 1 }
                    }
                }
                tallies[tallies.count - 1].1 = tally
            }
            return tallies
        }
        return tallies.map { group, tally in
            let checks = tally.checks.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return [
                .string(group), .int(tally.reboots), .int(tally.judged), .int(tally.faulty),
                tally.judged == 0 ? .null : .int(Int((100 * Double(tally.faulty) / Double(tally.judged)).rounded())),
                .int(tally.recovered), .string(checks),
            ]
        }
    }

    /// The group key and cluster filter of a report over reboot events (`e`).
    static func overReboots(_ report: String, _ groupBy: ReportGroup, _ clusters: [String]?) throws -> (String, String, StatementArguments) {
        guard let key = reportKey(groupBy, time: "e.seen_at", cluster: "e.cluster_name", check: nil) else {
            throw StoreError.unsupported("\(report) cannot be grouped by \(groupBy.rawValue)")
        }
        let (filter, arguments) = clusterFilter(clusters, column: "e.cluster_name")
        return (key, filter, arguments)
    }

    /// Reboot events in `[since, until)` (and the clusters the filter names) as `events`, each
    /// with `audit_node_id`: the audit of the node that noticed the reboot, or else the node's
    /// first audit after it.
    static func rebootsWithTheirAudit(_ clusterFilter: String) -> String {
        """
        events AS (
            SELECT e.*, coalesce(
                (SELECT a.id FROM audit_nodes a WHERE a.run_id = e.run_id AND a.node_name = e.node_name),
                (SELECT a.id FROM audit_nodes a WHERE a.node_id = e.node_id AND a.finished_at >= e.seen_at ORDER BY a.finished_at LIMIT 1)
            ) AS audit_node_id
            FROM reboot_events e
            WHERE e.seen_at >= ? AND e.seen_at < ? \(clusterFilter)
        )
        """
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
            WITH latest AS (SELECT c.name AS cluster_name, \(Self.latestAudit("c.name")) AS run_id FROM clusters c),
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
                [.string(Self.group(row)), .int(row["findings"]), .int(row["nodes"]), .int(row["open"]), .int(row["resolved"])]
            }
        }
    }

    /// The SQL a group's label comes from, with `a` the audit node of the time and `run` the run;
    /// nil where the report has no such thing (no check for reboots, no playbook for findings).
    static func reportKey(_ group: ReportGroup, time: String, cluster: String, check: String?, run: String? = nil) -> String? {
        switch group {
        case .playbook: run.map { "coalesce(\($0).playbook, 'unknown')" }
        case .trigger: run.map { "\($0).trigger" }
        case .cluster: cluster
        case .day: "substr(\(time), 1, 10)"
        // The Monday the week starts on.
        case .week: "date(\(time), 'weekday 0', '-6 days')"
        case .kernel: "coalesce(a.kernel, 'unknown')"
        case .nicDriver: "coalesce(a.nic_driver, 'unknown')"
        case .calicoVersion: "coalesce(a.calico_version, 'unknown')"
        case .encapsulation: "coalesce(a.encapsulation, 'unknown')"
        case .os: "coalesce(a.os, 'unknown')"
        case .check: check
        }
    }

    /// A row's group label; one the history never recorded reads `unknown`.
    static func group(_ row: Row) -> String {
        (row["grp"] as String?) ?? "unknown"
    }

    static func clusterFilter(_ clusters: [String]?, column: String) -> (String, StatementArguments) {
        guard let clusters, !clusters.isEmpty else { return ("", []) }
        return ("AND \(column) IN (\(Array(repeating: "?", count: clusters.count).joined(separator: ", ")))", StatementArguments(clusters))
    }
}
