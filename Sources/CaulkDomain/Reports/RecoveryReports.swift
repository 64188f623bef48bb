import CaulkAPI
import CaulkStore
import Foundation

/// How long nodes took to recover, and which will likely break at their next reboot.
extension ReportService {
    static let mttrColumns = ["incidents", "after_reboot", "recovered", "median_seconds", "p90_seconds", "max_seconds", "repairs", "unrecovered"]

    /// Per group: incidents, recovered ones' time to the next healthy audit (median, p90 by
    /// nearest rank, max), repairs in between, and how many are not recovered yet.
    static func mttr(_ incidents: [Incident]) -> [[ReportCell]] {
        var groups: [(String, [Incident])] = []
        for incident in incidents {
            if groups.last?.0 == incident.group { groups[groups.count - 1].1.append(incident) } else { groups.append((incident.group, [incident])) }
        }
        return groups.map { group, incidents in
            let durations = incidents.compactMap(\.recoverySeconds).sorted()
            return [
                .string(group), .int(incidents.count), .int(incidents.filter(\.rebooted).count), .int(durations.count),
                median(durations).map(ReportCell.int) ?? .null, nearestRank(durations, 0.9).map(ReportCell.int) ?? .null,
                durations.last.map(ReportCell.int) ?? .null, .int(incidents.reduce(0) { $0 + $1.repairs }),
                .int(incidents.count - durations.count),
            ]
        }
    }

    /// The incidents no audit has found healthy again yet, oldest first.
    static func unrecovered(_ incidents: [Incident]) -> ReportTable {
        let open = incidents.filter { $0.recoverySeconds == nil }.sorted { ($0.startedAt, $0.cluster, $0.node) < ($1.startedAt, $1.cluster, $1.node) }
        return ReportTable(
            title: "not recovered", columns: ["cluster", "node", "since", "after_reboot", "repairs", "checks"],
            rows: open.map {
                [.string($0.cluster), .string($0.node), .string(JSONCoding.formatDate($0.startedAt)), .string($0.rebooted ? "yes" : "no"), .int($0.repairs),
                 .string($0.checks.joined(separator: " "))]
            })
    }

    /// The middle value, or the mean of the two middle ones (rounded down).
    static func median(_ sorted: [Int]) -> Int? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The smallest value with at least `share` of the values at or below it.
    static func nearestRank(_ sorted: [Int], _ share: Double) -> Int? {
        guard !sorted.isEmpty else { return nil }
        return sorted[max(0, Int((share * Double(sorted.count)).rounded(.up)) - 1)]
    }

    static let riskColumns = ["cluster", "node", "check", "risk", "fix", "audited_at"]

    /// From each cluster's latest finished audit: the nodes F8 names (Calico will turn checksum
    /// offload on at their next restart), the nodes whose NetworkManager manages Calico's
    /// interfaces (F6), and, failing closed, every node that audit could not tell about.
    func risk(clusters: [String]?) async throws -> [[ReportCell]] {
        let nodes = try await store.latestAuditNodes(clusters: clusters)
        let findings = Dictionary(grouping: try await store.latestAuditFindings(clusters: clusters), by: \.clusterName)
        var rows: [[ReportCell]] = []
        for node in nodes {
            let audited: ReportCell = node.auditedAt.map { .string(JSONCoding.formatDate($0)) } ?? .null
            func row(_ check: String, _ risk: String, _ fix: String) {
                rows.append([.string(node.cluster), .string(node.node), .string(check), .string(risk), .string(fix), audited])
            }
            guard let health = node.health, health != .unreachable, !node.undetermined else {
                let why = node.runId == nil ? "the cluster has no finished audit" : node.health == nil ? "the latest audit did not include the node"
                    : "the latest audit could not read the node"
                row("-", "unknown: \(why)", "audit the cluster")
                continue
            }
            let checks = node.playbook.flatMap { library.playbooks[$0]?.checks } ?? []
            for finding in findings[node.cluster] ?? [] {
                guard let check = checks.first(where: { $0.id == finding.checkId }), let builtin = check.builtin else { continue }
                let fix = check.repair ?? "-"
                switch builtin {
                case .offloadRisk where finding.nodeName == nil:
                    var facts = NodeFacts()
                    (facts.kernel, facts.nicDriver, facts.offload) = (node.kernel, node.nicDriver, node.offload)
                    if CalicoChecks.armedAtNextRestart(facts) {
                        row(finding.checkId, "Calico turns VXLAN checksum offload on at the next restart (kernel \(facts.kernel ?? "?"), vmxnet3): TCP across the overlay breaks", fix)
                    }
                case .networkManagerUnmanaged where finding.nodeName == node.node:
                    row(finding.checkId, "NetworkManager manages Calico's interfaces and may take them down when it restarts or the node reboots", fix)
                default:
                    continue
                }
            }
        }
        return rows
    }
}
