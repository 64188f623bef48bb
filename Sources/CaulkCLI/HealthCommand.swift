import ArgumentParser
import CaulkAPI
import Foundation

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "A cluster's state from its latest audit.",
        discussion: """
            Shows each node's state and the findings of the latest finished audit (`caulk audit` runs one).
            Exit status: 0 healthy, 3 findings or unreachable nodes (or no audit yet), 1 error.
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

struct RebootsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reboots",
        abstract: "Reboot events, newest first: seen by audits or announced by boot beacons."
    )
    @OptionGroup var options: ClientOptions
    @Option(help: "Only this cluster.") var cluster: String?
    @Option(help: "Only this node (with --cluster).") var node: String?
    @Option(help: "At most this many.") var limit: Int = 50

    func run() async throws {
        var query: [(String, String)] = []
        if let cluster { query.append(("cluster", cluster)) }
        if let node { query.append(("node", node)) }
        let events = try await options.client().all("/v1/reboots", query: query, limit: limit, as: RebootEvent.self)
        try options.out.emit(events) { events in
            [["CLUSTER", "NODE", "BOOTED", "SEEN", "SOURCE", "OLD BOOT ID", "NEW BOOT ID"]]
                + events.map { [$0.cluster, $0.node, Output.date($0.bootedAt), Output.date($0.seenAt), $0.source, $0.oldBootId ?? "-", $0.newBootId] }
        }
    }
}

struct PlaybooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playbooks",
        abstract: "Playbooks the service can run: built-in and the operator's own (playbook_dirs)."
    )
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let playbooks = try await options.client().get("/v1/playbooks", as: [PlaybookInfo].self)
        try options.out.emit(playbooks) { playbooks in
            [["NAME", "KIND", "STEPS", "CHECKS", "SOURCE", "DESCRIPTION"]]
                + playbooks.map { [$0.name, $0.kind, String($0.steps.count), $0.checks.joined(separator: ","), $0.source, String($0.description.prefix(60))] }
        }
    }
}

struct BeaconCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beacon",
        abstract: "The boot beacon: nodes announce their own boots to caulk.",
        subcommands: [Install.self]
    )

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the boot beacon on a cluster's nodes (admin).",
            discussion: """
                Writes /etc/caulk/boot-beacon, its settings and a token of its own (mode 0600) to each node and
                enables caulk-boot-beacon.service (systemd oneshot, after network-online.target). At every boot
                the node then calls POST /v1/nodes/CLUSTER/NODE/boot; the token can do nothing else. Running it
                again replaces each node's token. A boot seen by both the beacon and an audit is recorded once.

                Example: caulk beacon install prod-a --node-url http://caulk.example:8420
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Option(help: "The caulk URL as the nodes reach it (often not --url: nodes may reach caulk another way).") var nodeURL: String
        @Option(help: "Only these nodes (comma-separated).") var nodes: String?

        func run() async throws {
            let request = BeaconRequest(url: nodeURL, nodes: nodes.map { $0.split(separator: ",").map(String.init) })
            let detail = try await options.client().post("/v1/clusters/\(segment(cluster))/beacon", json: request, as: RunDetail.self)
            try options.out.emit(detail) { detail in
                [["run \(detail.run.id) \(detail.run.playbook ?? "boot-beacon") on \(detail.run.cluster): \(detail.run.status.rawValue)"]]
                    + detail.hosts.map { [ExecCommand.describe($0, lines: 2, width: 24)] }
            }
            if detail.run.status != .succeeded { throw ExitCode(1) }
        }
    }
}
