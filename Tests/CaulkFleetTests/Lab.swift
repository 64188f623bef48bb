import CaulkAPI
import CaulkDomain
import CaulkSSH
import CaulkStore
import CaulkTestSupport
import Foundation
import Testing

/// The test fleet (`lab/caulk-lab`), which `make test` brings up before these tests and down
/// after. Without it these tests fail, saying how to start it: they never skip.
enum Lab {
    /// Clusters the exec tests use; the audit tests change `auditCluster`'s nodes (faults,
    /// reboots), the repair tests `repairCluster`'s and the CLI tests lab4's, so suites running
    /// side by side never meet. `make test` brings up `--clusters 6 --nodes 6` with lab6 set up unlike our defaults.
    static let execClusters = ["lab1", "lab2"]
    static let auditCluster = "lab3"
    static let repairCluster = "lab5"
    /// Set up unlike our defaults (`make test` passes `--variant lab6:…`): Kubernetes Nodes named by
    /// FQDN while the inventory has short names, no VXLAN MAC annotations, a 20,000-rule nftables
    /// ruleset on every node, Calico from the operator (calico-system, Installation) at another version,
    /// and no root logins: caulk logs in as `caulk` and runs commands through `sudo -n`.
    static let mixedCluster = "lab6"

    static let command = LabFleet.command

    /// The lab's inventory in caulk format, read once.
    static let inventory: Result<String, LabError> = {
        do {
            let text = try run(command, "inventory", "--format", "caulk")
            guard text.contains("clusters:") else { throw LabError("no clusters in the lab inventory") }
            return .success(text)
        } catch {
            return .failure(LabError("""
                the test fleet is not up (\(error)). Run `make test`, or start it by hand as root: \
                lab/caulk-lab up --clusters 6 --nodes 6 --variant lab6:fqdn,no-vxlan-mac,big-ruleset,operator,calico=3.27.3,sudo
                """))
        }
    }()

    /// A fresh store holding the lab's inventory, and the services over it.
    static func services(executor: SSHExecutor) async throws -> (Store, InventoryService, ExecService) {
        let text = try inventory.get()
        let store = try Store.inMemory()
        let inventoryService = InventoryService(store: store)
        _ = try await inventoryService.importInventory(text, format: .caulk, dryRun: false, by: "test")
        return (store, inventoryService, ExecService(store: store, executor: executor))
    }

    /// The services a repair test drives, over a fresh store holding the lab's inventory.
    struct Repairs {
        let store: Store
        let audits: AuditService
        let repairs: RepairService
        let autoRepairs: AutoRepairService

        init(executor: SSHExecutor) async throws {
            (store, _, _) = try await Lab.services(executor: executor)
            let library = try PlaybookLibrary()
            audits = AuditService(store: store, executor: executor, library: library)
            repairs = RepairService(store: store, executor: executor, audits: audits, library: library)
            autoRepairs = AutoRepairService(store: store, audits: audits, repairs: repairs)
        }

        /// Repairs `cluster` and waits: the run as recorded, and its result.
        func repair(_ cluster: String, _ request: RepairRequest = RepairRequest()) async throws -> (RunRecord, RepairResult) {
            let run = try await repairs.start(request, cluster: cluster, requester: "test", trigger: .api)
            await repairs.waitForAll()
            return (try #require(try await store.run(id: run.id)?.0), try await repairs.result(runId: run.id))
        }
    }

    /// `lab/caulk-lab ARGS…`: inject, clear, reboot, verify.
    @discardableResult
    static func lab(_ arguments: String...) throws -> String {
        try run(command, arguments)
    }

    /// What the lab says about a cluster's nodes (`caulk-lab status -o json`): faults, pods.
    struct NodeStatus: Decodable {
        struct Pod: Decodable {
            let pod: String
            let ready: Bool
        }
        let name: String
        let vmxnet3: Bool
        let faults: [String]
        let pod: Pod?
    }

    /// `caulk-lab verify CLUSTER -o json`: TCP, ICMP and a full-size DF ping between every ordered
    /// pair of nodes, and calico-node readiness.
    struct Verify: Decodable {
        struct Pair: Decodable {
            let src: String
            let dst: String
            let tcp: Bool
            let fullSize: Bool
            enum CodingKeys: String, CodingKey { case src, dst, tcp, fullSize = "full_size" }
        }
        let ok: Bool
        let pairs: [Pair]
    }

    static func verify(_ cluster: String, wait: Int = 0) throws -> Verify {
        // Exit status 1 is a verdict, not an error: the JSON says what failed.
        let text = try run("/bin/sh", "-c", "\(command) verify \(cluster) --wait \(wait) -o json; true")
        return try JSONDecoder().decode(Verify.self, from: Data(text.utf8))
    }

    static func status(_ cluster: String) throws -> [String: NodeStatus] {
        struct Status: Decodable {
            struct Cluster: Decodable { let nodes: [NodeStatus] }
            let clusters: [Cluster]
        }
        let status = try JSONDecoder().decode(Status.self, from: Data(try lab("status", "-o", "json", "--cluster", cluster).utf8))
        return Dictionary(uniqueKeysWithValues: (status.clusters.first?.nodes ?? []).map { ($0.name, $0) })
    }

    /// The kube API stand-in's log of mutating calls (verb, path, body), one JSON object a line.
    static func apiAuditTrail(_ cluster: String) throws -> [String] {
        let text = try String(contentsOfFile: "/run/caulk-lab/clusters/\(cluster)/audit.jsonl", encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    /// The findings at warning or above, per node, as `CHECK` ids.
    static func serious(_ result: AuditResult) -> [String: Set<String>] {
        var found: [String: Set<String>] = [:]
        for finding in result.findings where finding.severity != .info { found[finding.node ?? "(cluster)", default: []].insert(finding.check) }
        return found
    }

    /// Pods the kube API was asked to delete, from its audit trail after line `from`.
    static func deletedPods(_ cluster: String, from: Int) throws -> [String] {
        try apiAuditTrail(cluster).dropFirst(from).compactMap { line in
            guard line.contains("\"verb\": \"DELETE\""), let range = line.range(of: #"/pods/[a-z0-9-]+"#, options: .regularExpression) else { return nil }
            return String(line[range].dropFirst("/pods/".count))
        }
    }

    /// Runs a shell command inside a node's network namespace (the lab names it `cl-<node>`).
    @discardableResult
    static func inNode(_ node: String, _ shell: String) throws -> String {
        try run("/usr/sbin/ip", "netns", "exec", "cl-\(node)", "sh", "-c", shell)
    }

    /// Adds an nftables rule for SSH traffic into a node (`reject with tcp reset`, `drop`, …);
    /// `unfilterSSH` takes it away again.
    static func filterSSH(_ node: String, _ rule: String) throws {
        try inNode(node, "nft add table inet caulktest; nft add chain inet caulktest in '{ type filter hook input priority -10; }'; nft add rule inet caulktest in tcp dport 22 \(rule)")
    }

    static func unfilterSSH(_ node: String) {
        _ = try? inNode(node, "nft delete table inet caulktest")
    }

    /// Runs a command on a node over plain OpenSSH, as an operator would to check caulk's work.
    static func ssh(_ address: String, _ command: String, user: String = "root") throws -> String {
        try checked(LabFleet.ssh(address, command, user: user), "ssh \(user)@\(address) \(command)")
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: String...) throws -> String {
        try run(executable, arguments)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        try checked(Command.run(executable, arguments), "\(executable) \(arguments.joined(separator: " "))")
    }

    /// Its stdout when it exited 0.
    private static func checked(_ result: Command.Result, _ what: String) throws -> String {
        guard result.succeeded else { throw LabError("\(what) exited \(result.status): \(result.stderr.prefix(500))") }
        return result.stdout
    }
}

struct LabError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
