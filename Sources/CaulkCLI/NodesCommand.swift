import ArgumentParser
import CaulkAPI

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List, show, add, change and remove nodes.",
        subcommands: [List.self, Get.self, Add.self, Set.self, Remove.self, Trust.self]
    )

    static func table(_ nodes: [Node]) -> [[String]] {
        [["CLUSTER", "NAME", "ADDRESS", "ROLE", "LABELS", "HOST KEY", "LAST SEEN"]]
            + nodes.map {
                [$0.cluster, $0.name, $0.address, $0.role.rawValue,
                 $0.labels.isEmpty ? "-" : $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                 $0.hostKey.map { String($0.prefix(20)) + "…" } ?? "unpinned", Output.date($0.lastSeenAt)]
            }
    }

    struct Fields: ParsableArguments {
        @Option(help: "IPv4/IPv6 address or DNS name.") var address: String?
        @Option(help: "control-plane or worker.") var role: NodeRole?
        @Option(name: .customLong("label"), help: "Label key=value (repeat; on set, replaces all labels).") var labels: [KeyValue] = []
        @Option(help: "SSH user, overriding the cluster's.") var sshUser: String?
        @Option(help: "SSH port, overriding the cluster's.") var sshPort: Int?
        @Option(help: "Private key file, overriding the cluster's (\"\" clears it).") var sshKey: String?
        @Option(help: "Jump host [user@]host[:port], overriding the cluster's (\"\" clears it).") var bastion: String?
        @Option(help: "Run commands as this user through `sudo -n`, overriding the cluster's (\"\" clears it).") var sshBecome: String?
        @Option(help: "Pinned host key: SHA256:… or a known_hosts line (\"\" clears it).") var hostKey: String?

        func input(cluster: String?, name: String?) -> NodeInput {
            let ssh = SSHOverrides(user: sshUser, port: sshPort, key: sshKey, bastion: bastion, become: sshBecome)
            return NodeInput(
                cluster: cluster, name: name, address: address, role: role,
                labels: labels.isEmpty ? nil : Dictionary(labels.map { ($0.key, $0.value) }) { _, last in last },
                ssh: ssh.isEmpty ? nil : ssh, hostKey: hostKey)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List nodes, optionally filtered.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only this cluster's nodes.") var cluster: String?
        @Option(help: "Only control-plane or worker nodes.") var role: NodeRole?
        @Option(name: .customLong("label"), help: "Only nodes with this label key=value (repeat to require several).") var labels: [KeyValue] = []
        @Option(help: "At most this many (default: all).") var limit: Int?

        func run() async throws {
            var query: [(String, String)] = []
            if let cluster { query.append(("cluster", cluster)) }
            if let role { query.append(("role", role.rawValue)) }
            query += labels.map { ("label", $0.text) }
            let nodes = try await options.client().all("/v1/nodes", query: query, limit: limit, as: Node.self)
            try options.out.emit(nodes, table: NodesCommand.table)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Node name.") var name: String

        func run() async throws {
            let node = try await options.client().get("/v1/nodes/\(segment(cluster))/\(segment(name))", as: Node.self)
            try options.out.emit(node) { NodesCommand.table([$0]) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a node to a cluster (admin).",
            discussion: "Example: caulk nodes add prod-a worker3 --address 198.18.0.13 --label zone=b --host-key SHA256:…"
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Node name (a DNS-1123 label).") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            let node = try await options.client().post("/v1/nodes", json: fields.input(cluster: cluster, name: name), as: Node.self)
            try options.out.emit(node) { NodesCommand.table([$0]) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a node's fields (admin).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Node name.") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            let node = try await options.client().patch(
                "/v1/nodes/\(segment(cluster))/\(segment(name))", json: fields.input(cluster: nil, name: nil), as: Node.self)
            try options.out.emit(node) { NodesCommand.table([$0]) }
        }
    }

    struct Trust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin the host key nodes show now (admin).",
            discussion: """
                Connects to each node, logs in, and pins the key it presents. Use it for new
                nodes. A node whose key changed is re-pinned only with --expect, the new
                fingerprint you checked out of band; --expect pins only that exact
                fingerprint. Without node names: every node with no pinned key yet.
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Node names (default: all unpinned nodes).") var names: [String] = []
        @Option(help: "Pin only if the node shows this SHA256:… fingerprint.") var expect: String?

        func run() async throws {
            let results = try await options.client().post(
                "/v1/clusters/\(segment(cluster))/trust", json: TrustRequest(nodes: names.isEmpty ? nil : names, expect: expect), as: [TrustResult].self)
            try options.out.emit(results) { results in
                [["NODE", "PINNED", "HOST KEY", "PREVIOUS", "ERROR"]]
                    + results.map { [$0.node, $0.pinned ? "yes" : "no", $0.hostKey ?? "-", $0.previous ?? "-", $0.error ?? ""] }
            }
            if results.contains(where: { !$0.pinned }) { throw ExitCode(1) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a node (admin).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var cluster: String
        @Argument(help: "Node name.") var name: String

        func run() async throws {
            try await options.client().delete("/v1/nodes/\(segment(cluster))/\(segment(name))")
            if options.output == .table { print("node \(name) removed from cluster \(cluster)") }
        }
    }
}
