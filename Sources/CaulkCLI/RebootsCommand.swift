import ArgumentParser
import CaulkAPI
import Foundation

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

struct BeaconCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beacon",
        abstract: "The boot beacon: nodes announce their own boots to caulk.",
        subcommands: [Install.self, Revoke.self]
    )

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the boot beacon on a cluster's nodes (admin).",
            discussion: """
                Writes /etc/caulk/boot-beacon, its settings and a token of its own (mode 0600)
                to each node and enables caulk-boot-beacon.service (systemd oneshot, after
                network-online.target). At every boot the node then calls POST
                /v1/nodes/CLUSTER/NODE/boot; the token can do nothing else. Running it again
                replaces each node's token. A boot seen by both the beacon and an audit is
                recorded once.

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

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the node tokens of a cluster's beacons (admin).",
            discussion: """
                For a node retired, or whose /etc/caulk/beacon.token was exposed: its beacon can
                announce nothing until `caulk beacon install` runs on it again. Without --nodes,
                every node of the cluster. One token is also revoked by the name `caulk tokens
                list` shows (`caulk tokens revoke 'node:CLUSTER/NODE@…'`).

                Example: caulk beacon revoke prod-a --nodes w7
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Option(help: "Only these nodes (comma-separated).") var nodes: String?

        func run() async throws {
            let query = (nodes ?? "").split(separator: ",").map { ("node", String($0)) }
            let data = try await options.client().delete("/v1/clusters/\(segment(cluster))/beacon", query: query)
            let revoked = try JSONCoding.decoder().decode(Page<TokenInfo>.self, from: data).items
            if options.output == .table {
                print(revoked.isEmpty ? "no active node tokens on \(cluster)\(nodes.map { " (\($0))" } ?? "")" : "revoked: " + revoked.map(\.name).joined(separator: ", "))
            } else {
                try options.out.emit(revoked) { _ in [] }
            }
        }
    }
}
