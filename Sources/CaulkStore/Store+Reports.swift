import CaulkAPI
import Foundation
import GRDB

extension Store {
    /// Reboot events seen in `[since, until)`, counted per group. A reboot is grouped by what the
    /// node ran at the time: what the audit that judged it read (the audit that noticed the
    /// reboot, or else the node's first audit after it).
    public func rebootReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        let (key, clusterFilter, clusterArguments) = try Self.overReboots("reboots", groupBy, clusters)
        let sql = """
            SELECT \(key) AS grp, count(*) AS reboots, count(DISTINCT e.cluster_name || '/' || e.node_name) AS nodes,
                count(DISTINCT e.cluster_name) AS clusters
            FROM reboot_events e LEFT JOIN node_fact_sets x ON x.id = e.fact_set_id
            WHERE e.seen_at >= ? AND e.seen_at < ? \(clusterFilter)
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
    /// its reboot is counted, neither faulty nor fine. The verdicts are worked out as audits
    /// finish (`Store+ReportHistory`).
    public func postRebootReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        let (key, clusterFilter, clusterArguments) = try Self.overReboots("post-reboot", groupBy, clusters)
        let sql = """
            SELECT \(key) AS grp, coalesce(e.checks, '') AS checks, count(*) AS reboots, coalesce(sum(e.judged), 0) AS judged,
                count(e.recovered_at) AS recovered
            FROM reboot_events e LEFT JOIN node_fact_sets x ON x.id = e.fact_set_id
            WHERE e.seen_at >= ? AND e.seen_at < ? \(clusterFilter)
            GROUP BY grp, checks ORDER BY grp
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
                let reboots: Int = row["reboots"]
                let checks = (row["checks"] as String).split(separator: " ").map(String.init)
                var tally = tallies[tallies.count - 1].1
                tally.reboots += reboots
                tally.judged += row["judged"] as Int
                if !checks.isEmpty {
                    tally.faulty += reboots
                    tally.recovered += row["recovered"] as Int
                    for check in checks { tally.checks[check, default: 0] += reboots }
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

    /// The group key and cluster filter of a report over reboot events (`e`, with `x` what the
    /// audit that judged each read of the node).
    static func overReboots(_ report: String, _ groupBy: ReportGroup, _ clusters: [String]?) throws -> (String, String, StatementArguments) {
        guard let key = reportKey(groupBy, time: "e.seen_at", cluster: "e.cluster_name", check: nil) else {
            throw StoreError.unsupported("\(report) cannot be grouped by \(groupBy.rawValue)")
        }
        let (filter, arguments) = clusterFilter(clusters, column: "e.cluster_name")
        return (key, filter, arguments)
    }

    /// Findings at warning or above made in `[since, until)` by audits that have ended, per group:
    /// how many, on how many nodes (the cluster counts as one where a finding is about it as a
    /// whole), and how many distinct faults (cluster, node, check) the cluster's latest finished
    /// audit still shows (open) or no longer does (resolved).
    public func findingReport(since: Date, until: Date, clusters: [String]?, groupBy: ReportGroup) async throws -> [[ReportCell]] {
        guard let key = Self.reportKey(groupBy, time: "s.created_at", cluster: "s.cluster_name", check: "s.check_id") else {
            throw StoreError.unsupported("findings cannot be grouped by \(groupBy.rawValue)")
        }
        let (clusterFilter, clusterArguments) = Self.clusterFilter(clusters, column: "s.cluster_name")
        // Findings per group and fault first (by number), then the faults' nodes and whether
        // the latest audits still show them.
        let sql = """
            WITH latest AS (SELECT \(Self.latestAudit("c.name")) AS run_id FROM clusters c),
            still AS (SELECT DISTINCT f.fault_id FROM findings f JOIN latest l ON l.run_id = f.run_id WHERE f.severity != 'info'),
            seen AS (
                SELECT \(key) AS grp, s.fault_id, count(*) AS findings
                FROM findings s LEFT JOIN node_fact_sets x ON x.id = s.fact_set_id
                WHERE s.severity != 'info' AND s.created_at >= ? AND s.created_at < ? AND s.fault_id IS NOT NULL \(clusterFilter)
                GROUP BY grp, s.fault_id
            )
            SELECT s.grp, sum(s.findings) AS findings, count(DISTINCT t.cluster_name || '/' || t.node_name) AS nodes,
                count(o.fault_id) AS open, count(*) - count(o.fault_id) AS resolved
            FROM seen s JOIN faults t ON t.id = s.fault_id LEFT JOIN still o ON o.fault_id = s.fault_id
            GROUP BY s.grp ORDER BY s.grp
            """
        return try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments([since, until]) + clusterArguments).map { row in
                [.string(Self.group(row)), .int(row["findings"]), .int(row["nodes"]), .int(row["open"]), .int(row["resolved"])]
            }
        }
    }

    /// The SQL a group's label comes from, with `x` what the node ran at the time (`node_fact_sets`)
    /// and `run` the run;
    /// nil where the report has no such thing (no check for reboots, no playbook for findings).
    static func reportKey(_ group: ReportGroup, time: String, cluster: String, check: String?, run: String? = nil) -> String? {
        switch group {
        case .playbook: run.map { "coalesce(\($0).playbook, 'unknown')" }
        case .trigger: run.map { "\($0).trigger" }
        case .cluster: cluster
        case .day: "substr(\(time), 1, 10)"
        // The Monday the week starts on.
        case .week: "date(\(time), 'weekday 0', '-6 days')"
        case .kernel: "coalesce(nullif(x.kernel, ''), 'unknown')"
        case .nicDriver: "coalesce(nullif(x.nic_driver, ''), 'unknown')"
        case .calicoVersion: "coalesce(nullif(x.calico_version, ''), 'unknown')"
        case .encapsulation: "coalesce(nullif(x.encapsulation, ''), 'unknown')"
        case .os: "coalesce(nullif(x.os, ''), 'unknown')"
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
