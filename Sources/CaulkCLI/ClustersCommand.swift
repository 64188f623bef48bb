import ArgumentParser
import CaulkAPI

struct ClustersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusters",
        abstract: "List, show, add, change and remove clusters.",
        subcommands: [List.self, Get.self, Add.self, Set.self, Remove.self]
    )

    static func table(_ clusters: [Cluster]) -> [[String]] {
        [["NAME", "ENCAP", "NAMESPACE", "API ENDPOINT", "POD CIDR", "NODES", "SSH"]]
            + clusters.map {
                [$0.name, $0.encapsulation.rawValue, $0.calicoNamespace.rawValue, $0.apiEndpoint, $0.podCidr ?? "-",
                 String($0.nodeCount), "\($0.ssh.user)@:\($0.ssh.port)" + ($0.ssh.become.map { " sudo→\($0)" } ?? "") + ($0.ssh.bastion.map { " via \($0)" } ?? "")]
            }
    }

    /// Cluster fields shared by `add` and `set`.
    struct Fields: ParsableArguments {
        @Option(help: "Kubernetes API endpoint, e.g. https://198.18.0.10:6443.")
        var apiEndpoint: String?
        @Option(help: "Pod network CIDR, e.g. 198.19.0.0/16 (\"\" clears it).")
        var podCidr: String?
        @Option(help: "Expected encapsulation: vxlan, ipip or none.")
        var encapsulation: Encapsulation?
        @Option(help: "Namespace Calico runs in: kube-system or calico-system.")
        var calicoNamespace: CalicoNamespace?
        @Option(help: "SSH user for the cluster's nodes.")
        var sshUser: String?
        @Option(help: "SSH port for the cluster's nodes.")
        var sshPort: Int?
        @Option(help: "Private key file on the caulk server (\"\" clears it).")
        var sshKey: String?
        @Option(help: "Jump host as [user@]host[:port] (\"\" clears it).")
        var bastion: String?
        @Option(help: "Run every command as this user (usually root) through `sudo -n`, where root may not log in (\"\" clears it).")
        var sshBecome: String?

        func input(name: String?) -> ClusterInput {
            let ssh = SSHOverrides(user: sshUser, port: sshPort, key: sshKey, bastion: bastion, become: sshBecome)
            return ClusterInput(
                name: name, apiEndpoint: apiEndpoint, podCidr: podCidr, encapsulation: encapsulation,
                calicoNamespace: calicoNamespace, ssh: ssh.isEmpty ? nil : ssh)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clusters.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only clusters with this encapsulation.") var encapsulation: Encapsulation?
        @Option(help: "At most this many (default: all).") var limit: Int?

        func run() async throws {
            let query = encapsulation.map { [("encapsulation", $0.rawValue)] } ?? []
            let clusters = try await options.client().all("/v1/clusters", query: query, limit: limit, as: Cluster.self)
            try options.out.emit(clusters, table: ClustersCommand.table)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one cluster.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var name: String

        func run() async throws {
            let cluster = try await options.client().get("/v1/clusters/\(segment(name))", as: Cluster.self)
            try options.out.emit(cluster) { ClustersCommand.table([$0]) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a cluster (admin).",
            discussion: "Example: caulk clusters add prod-a --api-endpoint https://198.18.0.10:6443 --pod-cidr 198.19.0.0/16 --ssh-key /etc/caulk/id_ed25519"
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name (a DNS-1123 label).") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            let cluster = try await options.client().post("/v1/clusters", json: fields.input(name: name), as: Cluster.self)
            try options.out.emit(cluster) { ClustersCommand.table([$0]) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a cluster's fields (admin).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            let cluster = try await options.client().patch("/v1/clusters/\(segment(name))", json: fields.input(name: nil), as: Cluster.self)
            try options.out.emit(cluster) { ClustersCommand.table([$0]) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a cluster (admin).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster name.") var name: String
        @Flag(help: "Also remove its nodes (otherwise a cluster with nodes is refused).") var cascade = false

        func run() async throws {
            try await options.client().delete("/v1/clusters/\(segment(name))", query: cascade ? [("cascade", "true")] : [])
            if options.output == .table { print("cluster \(name) removed") }
        }
    }
}

extension Encapsulation: ExpressibleByArgument {}
extension CalicoNamespace: ExpressibleByArgument {}
extension NodeRole: ExpressibleByArgument {}
extension RunKind: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}
extension InventoryFormat: ExpressibleByArgument {}
