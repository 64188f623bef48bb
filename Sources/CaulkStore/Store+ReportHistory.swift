import Foundation
import GRDB

/// What reports read of the past, worked out once per audit when it finishes: each reboot's
/// verdict (`reboot_events.judged`, `checks`, `recovered_at`), each incident (`incidents`), each
/// warning or critical finding's fault (`faults`), and what the node ran (`node_fact_sets`) for
/// all of them.
/// Only finished audits count: until its run ends, an audit's node states can still change.
///
/// The rules only ask what the recorded audits say, whatever order runs are worked in, so the
/// same code brings an old database (or a generated history) up to date at start-up and keeps
/// it so as audits finish.
extension Store {
    /// Works every finished audit run not yet worked into the report history, oldest first, a
    /// batch of runs per transaction. Returns how many runs it worked.
    public func indexHistory(batch: Int = 500) async throws -> Int {
        var total = 0
        while true {
            let done = try await writer.write { db in try Self.indexHistory(db, limit: batch) }
            total += done
            if done < batch { return total }
        }
    }

    /// Audit runs that ended but are not worked into the report history yet.
    public func historyBacklog() async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE \(Self.notWorkedIn)") ?? 0 }
    }

    /// The runs `indexHistory` has still to work in: audits that ended and are not worked in.
    static let notWorkedIn = "kind = 'audit' AND history_indexed = 0 AND status != 'running'"

    /// Works up to `limit` finished audit runs not worked yet (oldest first) into the report
    /// history, and returns how many:
    /// - what their nodes ran, and the fault each warning or critical finding names;
    /// - incidents their faulty nodes open (with the recovery, if already recorded);
    /// - incidents still open that a healthy audit has since closed;
    /// - reboots not judged yet that a finished audit now judges;
    /// - faulty reboots a healthy audit has since recovered.
    @discardableResult
    static func indexHistory(_ db: Database, limit: Int) throws -> Int {
        let runs = try Int64.fetchAll(
            db, sql: "SELECT id FROM runs WHERE \(notWorkedIn) ORDER BY id LIMIT ?",
            arguments: [limit])
        guard !runs.isEmpty else { return 0 }
        let list = runs.map(String.init).joined(separator: ",")
        try db.execute(sql: """
            INSERT OR IGNORE INTO node_fact_sets (kernel, nic_driver, calico_version, encapsulation, os)
            SELECT DISTINCT coalesce(kernel, ''), coalesce(nic_driver, ''), coalesce(calico_version, ''), coalesce(encapsulation, ''), coalesce(os, '')
            FROM audit_nodes WHERE id IN (
                SELECT id FROM audit_nodes WHERE run_id IN (\(list)) UNION SELECT audit_node_id FROM (\(pendingVerdicts)))
            """)
        try db.execute(sql: """
            INSERT OR IGNORE INTO faults (cluster_name, node_name, check_id)
            SELECT DISTINCT cluster_name, coalesce(node_name, ''), check_id FROM findings WHERE run_id IN (\(list)) AND severity != 'info'
            """)
        try db.execute(sql: """
            UPDATE findings SET
                fault_id = (SELECT t.id FROM faults t WHERE t.cluster_name = findings.cluster_name AND t.node_name = coalesce(findings.node_name, '')
                    AND t.check_id = findings.check_id),
                fact_set_id = (SELECT \(factSet("a")) FROM audit_nodes a WHERE a.run_id = findings.run_id AND a.node_name = findings.node_name)
            WHERE run_id IN (\(list)) AND severity != 'info'
            """)
        try db.execute(sql: """
            INSERT INTO incidents (
                node_id, cluster_name, node_name, audit_node_id, found_at, fact_set_id, previous_at, started_at, rebooted, checks, healthy_at)
            WITH candidates AS (
                SELECT a.*, r.cluster_name,
                    (SELECT p.id FROM audit_nodes p JOIN runs pr ON pr.id = p.run_id AND pr.status != 'running'
                        WHERE p.node_id = a.node_id AND p.finished_at < a.finished_at AND p.health != 'unreachable'
                        ORDER BY p.finished_at DESC LIMIT 1) AS previous_id
                FROM audit_nodes a JOIN runs r ON r.id = a.run_id
                WHERE a.run_id IN (\(list)) AND a.health IN ('degraded', 'broken') AND a.node_id IS NOT NULL
                    AND NOT EXISTS (\(undeterminedFindings("a")))
                    AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.audit_node_id = a.id)
            ),
            opened AS (
                SELECT c.*, p.finished_at AS previous_at,
                    (SELECT coalesce(e.booted_at, e.seen_at) FROM reboot_events e WHERE e.node_id = c.node_id
                        AND e.seen_at > coalesce(p.finished_at, '') AND e.seen_at <= c.finished_at ORDER BY e.seen_at LIMIT 1) AS rebooted_at
                FROM candidates c LEFT JOIN audit_nodes p ON p.id = c.previous_id
                WHERE p.id IS NULL OR p.health = 'healthy'
            )
            SELECT o.node_id, o.cluster_name, o.node_name, o.id, o.finished_at, \(factSet("o")), o.previous_at, coalesce(o.rebooted_at, o.finished_at),
                o.rebooted_at IS NOT NULL, \(faultChecks("o")), \(firstHealthy(node: "o.node_id", after: "o.finished_at"))
            FROM opened o
            """)
        try db.execute(sql: """
            UPDATE incidents SET healthy_at = \(firstHealthy(node: "incidents.node_id", after: "incidents.found_at"))
            WHERE healthy_at IS NULL AND node_id IS NOT NULL
            """)
        try db.execute(sql: """
            WITH pending AS (\(pendingVerdicts)),
            verdicts AS (
                SELECT p.event_id, a.id AS audit_node_id, \(factSet("a")) AS fact_set_id,
                    a.health != 'unreachable' AND NOT EXISTS (\(undeterminedFindings("a"))) AS judged, \(faultChecks("a")) AS checks
                FROM pending p JOIN audit_nodes a ON a.id = p.audit_node_id JOIN runs r ON r.id = a.run_id AND r.status != 'running'
            )
            UPDATE reboot_events SET audit_node_id = v.audit_node_id, fact_set_id = v.fact_set_id, judged = v.judged,
                checks = CASE WHEN v.judged THEN v.checks ELSE '' END
            FROM verdicts v WHERE reboot_events.id = v.event_id
            """)
        try db.execute(sql: """
            UPDATE reboot_events SET recovered_at = \(firstHealthy(
                node: "reboot_events.node_id", after: "(SELECT a.finished_at FROM audit_nodes a WHERE a.id = reboot_events.audit_node_id)"))
            WHERE checks != '' AND recovered_at IS NULL AND node_id IS NOT NULL
            """)
        try db.execute(sql: "UPDATE runs SET history_indexed = 1 WHERE id IN (\(list))")
        return runs.count
    }

    /// The reboots not judged yet, each with the audit that judges it once its run has ended:
    /// the audit that noticed the reboot, or else the node's first audit after it. (A reboot of a
    /// node since deleted, that no audit noticed, stays unjudged.)
    static let pendingVerdicts = """
        SELECT e.id AS event_id, coalesce(
            (SELECT a.id FROM audit_nodes a WHERE a.run_id = e.run_id AND a.node_name = e.node_name),
            (SELECT a.id FROM audit_nodes a WHERE a.node_id = e.node_id AND a.finished_at >= e.seen_at ORDER BY a.finished_at LIMIT 1)
        ) AS audit_node_id
        FROM reboot_events e WHERE e.judged IS NULL
        """

    /// A subquery for the `node_fact_sets` row of what audit node `alias` read of its node.
    static func factSet(_ alias: String) -> String {
        """
        (SELECT x.id FROM node_fact_sets x WHERE x.kernel = coalesce(\(alias).kernel, '') AND x.nic_driver = coalesce(\(alias).nic_driver, '')
            AND x.calico_version = coalesce(\(alias).calico_version, '') AND x.encapsulation = coalesce(\(alias).encapsulation, '')
            AND x.os = coalesce(\(alias).os, ''))
        """
    }

    /// A subquery for when the node's first healthy audit after `after` finished, among audits
    /// whose runs have ended.
    static func firstHealthy(node: String, after: String) -> String {
        """
        (SELECT h.finished_at FROM audit_nodes h JOIN runs hr ON hr.id = h.run_id AND hr.status != 'running'
            WHERE h.node_id = \(node) AND h.finished_at > \(after) AND h.health = 'healthy' ORDER BY h.finished_at LIMIT 1)
        """
    }

    /// A subquery for the warning and critical checks audit node `alias` found on its node,
    /// sorted and space-separated ('' for none).
    static func faultChecks(_ alias: String) -> String {
        """
        coalesce((SELECT group_concat(check_id, ' ') FROM (SELECT DISTINCT f.check_id FROM findings f
            WHERE f.run_id = \(alias).run_id AND f.node_name = \(alias).node_name AND f.severity != 'info' ORDER BY f.check_id)), '')
        """
    }
}
