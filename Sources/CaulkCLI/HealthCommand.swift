import ArgumentParser
import CaulkAPI
import Foundation

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "A cluster's state from its latest audit.",
        discussion: """
            Shows each node's state and the findings of the latest finished audit (`caulk
            audit` runs one). Exit status: 0 healthy, 3 findings or unreachable nodes (or
            no audit yet), 1 error.
            """
    )
    @OptionGroup var options: ClientOptions
    @Argument(help: "Cluster name.") var cluster: String

    func run() async throws {
        let health = try await options.client().get("/v1/clusters/\(segment(cluster))/health", as: ClusterHealth.self)
        try options.out.emit(health) { health in
            guard let run = health.run, let result = health.result else {
                return [["\(health.cluster): \(health.state.rawValue) — no audit has finished yet; run `caulk audit \(health.cluster)`"]]
            }
            var rows = [["\(health.cluster): \(health.state.rawValue) (audit run \(run.id), finished \(Output.date(run.finishedAt)))"]]
            if let facts = result.facts {
                rows.append(["calico \(facts.calicoVersion.map { "v" + $0 } ?? "?"), vxlanMode \(facts.vxlanMode ?? "?"), featureDetectOverride \(facts.featureDetectOverride ?? "-")"])
            }
            rows.append([""])
            rows += NodesTable.rows(result)
            return rows
        }
        if health.state != .healthy { throw ExitCode(3) }
    }
}

/// The node and findings tables of an audit, shared by `health` and `runs show`.
enum NodesTable {
    static func rows(_ result: AuditResult) -> [[String]] {
        var rows = [["NODE", "HEALTH", "KERNEL", "NIC", "OFFLOAD", "BOOTED", "FINDINGS"]]
        for node in result.nodes {
            let checks = result.findings.filter { $0.node == node.node && $0.severity != .info }.map(\.check)
            rows.append([
                node.node, node.health.rawValue, node.facts?.kernel ?? "-", node.facts?.nicDriver ?? "-", node.facts?.offload ?? "-",
                Output.date(node.bootedAt), node.error ?? (checks.isEmpty ? "-" : checks.joined(separator: " ")),
            ])
        }
        let findings = result.findings.sorted { ($0.severity, $1.node ?? "") > ($1.severity, $0.node ?? "") }
        guard !findings.isEmpty else { return rows }
        rows.append([""])
        rows.append(["NODE", "CHECK", "SEVERITY", "MESSAGE", "REPAIR"])
        rows += findings.map { [$0.node ?? "(cluster)", $0.check, $0.severity.rawValue, $0.message, $0.repair ?? "-"] }
        return rows
    }
}
