import CaulkAPI
import CaulkDomain
import CaulkSSH
import CaulkStore
import Foundation
import Testing

/// `caulk exec` end to end on the lab's nodes: real sshd per node, real host keys, real network.
@Suite(.serialized) struct ExecFleetTests {
    static let executor = SSHExecutor(threads: 64)

    func exec(_ exec: ExecService, _ cluster: String, _ request: ExecRequest) async throws -> (Run, [RunHost]) {
        let prepared = try await exec.prepare(request, cluster: cluster, requester: "test", trigger: .api)
        var hosts: [RunHost] = []
        let run = try await exec.run(prepared) { hosts.append($0) }
        return (run, hosts)
    }

    @Test func everyNodeAnswersWithItsOwnNameAndTheRunIsRecorded() async throws {
        let (store, inventory, exec) = try await Lab.services(executor: Self.executor)
        for cluster in try await inventory.clusters().items where Lab.execClusters.contains(cluster.name) {
            let (run, hosts) = try await self.exec(exec, cluster.name, ExecRequest(command: "hostname"))
            #expect(run.status == .succeeded)
            #expect(hosts.count == cluster.nodeCount)
            for host in hosts {
                #expect(host.outcome == .ok)
                #expect(host.stdout == host.node + "\n", "node \(host.node) answered \(host.stdout)")
            }
            let detail = try await RunHistory(store: store).show(run.id)
            #expect(detail.hosts.count == cluster.nodeCount && detail.run.outcomes["ok"] == cluster.nodeCount)
            #expect(try await store.run(id: run.id)?.0.requester == "test")
        }
    }

    @Test func exitCodesStderrAndCappedOutputComeBackExactly() async throws {
        let (_, _, exec) = try await Lab.services(executor: Self.executor)
        let cluster = Lab.execClusters[0]
        let (run, hosts) = try await self.exec(exec, cluster, ExecRequest(command: "echo out; echo \"err $(hostname)\" >&2; exit 7", role: .worker))
        #expect(run.status == .failed)
        for host in hosts {
            #expect(host.outcome == .failed && host.exitStatus == 7)
            #expect(host.stdout == "out\n", "\(host.node): \(host.stdout)")
            #expect(host.stderr == "err \(host.node)\n", "\(host.node): \(host.stderr)")
        }
        let (_, big) = try await self.exec(exec, cluster, ExecRequest(command: "head -c 5000000 /dev/zero | tr '\\0' x", nodes: [hosts[0].node]))
        #expect(big[0].stdoutTruncated && big[0].stdout.utf8.count == ExecService.storedOutputCap)
        #expect(big[0].outcome == .ok)
    }

    @Test func aTimedOutCommandIsStoppedOnTheNode() async throws {
        let (_, inventory, exec) = try await Lab.services(executor: Self.executor)
        let node = try await inventory.nodes(cluster: Lab.execClusters[0], role: .worker).items[0]
        let started = ContinuousClock.now
        let (_, hosts) = try await self.exec(exec, node.cluster, ExecRequest(command: "sleep 100", nodes: [node.name], timeout: 2))
        #expect(hosts[0].outcome == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(6))
        var gone = false
        for _ in 0..<40 where !gone {
            try await Task.sleep(for: .milliseconds(200))
            gone = (try? Lab.ssh(node.address, "pgrep -f '^sleep 100$'")) == nil
        }
        #expect(gone, "sleep 100 still runs on \(node.name)")
    }

    @Test func refusedAndBlackholedNodesCostOnlyTheirOwnTimeouts() async throws {
        let (store, inventory, _) = try await Lab.services(executor: Self.executor)
        var options = SSHOptions()
        options.connectTimeout = .seconds(4)
        let exec = ExecService(store: store, executor: Self.executor, options: options)
        let cluster = Lab.execClusters[0]
        let nodes = try await inventory.nodes(cluster: cluster).items
        let (refused, dropped) = (nodes[1], nodes[2])
        try Lab.filterSSH(refused.name, "reject with tcp reset")
        try Lab.filterSSH(dropped.name, "drop")
        defer {
            Lab.unfilterSSH(refused.name)
            Lab.unfilterSSH(dropped.name)
        }
        let started = ContinuousClock.now
        let (run, hosts) = try await self.exec(exec, cluster, ExecRequest(command: "hostname"))
        let byName = Dictionary(uniqueKeysWithValues: hosts.map { ($0.node, $0) })
        #expect(run.status == .failed)
        #expect(byName[refused.name]?.errorKind == "connection-refused")
        #expect((byName[refused.name]?.durationMs ?? .max) < 1000)
        #expect(byName[dropped.name]?.errorKind == "connect-timeout")
        for host in hosts where host.node != refused.name && host.node != dropped.name {
            #expect(host.outcome == .ok)
            #expect(host.durationMs < 5000, "\(host.node) was held up: \(host.durationMs) ms")
        }
        // the whole run took about one connect timeout, not one per dead node
        #expect(ContinuousClock.now - started < .seconds(25))
    }

    @Test func unpinnedAndChangedHostKeysAreRefusedAndNothingRuns() async throws {
        let (store, inventory, exec) = try await Lab.services(executor: Self.executor)
        let cluster = Lab.execClusters[0]
        let nodes = try await inventory.nodes(cluster: cluster).items
        let (unpinned, changed, fine) = (nodes[1], nodes[2], nodes[3])
        // /etc is private to each lab node (/tmp is shared with the host).
        let marker = "/etc/caulk-touched-\(UUID().uuidString)"
        _ = try await inventory.updateNode(cluster: cluster, name: unpinned.name, NodeInput(hostKey: ""), by: "test")
        _ = try await inventory.updateNode(cluster: cluster, name: changed.name, NodeInput(hostKey: "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"), by: "test")
        let (_, hosts) = try await self.exec(exec, cluster, ExecRequest(command: "touch \(marker)", nodes: [unpinned.name, changed.name, fine.name]))
        let byName = Dictionary(uniqueKeysWithValues: hosts.map { ($0.node, $0) })
        #expect(byName[unpinned.name]?.errorKind == "host-key-unknown")
        #expect(byName[changed.name]?.errorKind == "host-key-changed")
        #expect(byName[changed.name]?.error?.contains(changed.hostKey ?? "-") == true)
        #expect(byName[fine.name]?.outcome == .ok)
        #expect((try? Lab.ssh(unpinned.address, "test -e \(marker)")) == nil, "the command ran on a node with an unpinned key")
        #expect((try? Lab.ssh(changed.address, "test -e \(marker)")) == nil, "the command ran on a node with a changed key")
        #expect((try? Lab.ssh(fine.address, "test -e \(marker) && rm \(marker)")) != nil)

        // trusting pins what a new node shows; a changed key only with --expect
        let trust = HostKeyTrust(store: store, executor: Self.executor)
        let trusted = try await trust.trust(cluster: cluster, TrustRequest(nodes: [unpinned.name, changed.name, unpinned.name]), by: "test")
        #expect(trusted.count == 2, "a name given twice is one node, and no crash")
        #expect(trusted.first { $0.node == unpinned.name }?.pinned == true)
        let refused = try #require(trusted.first { $0.node == changed.name })
        #expect(!refused.pinned && refused.error?.contains("its key changed") == true && refused.error?.contains("--expect \(changed.hostKey!)") == true, "\(refused)")
        #expect(try await inventory.node(cluster: cluster, name: changed.name).hostKey == "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4")
        let repinned = try await trust.trust(cluster: cluster, TrustRequest(nodes: [changed.name], expect: changed.hostKey), by: "test")
        #expect(repinned.first?.pinned == true)
        #expect(try await inventory.node(cluster: cluster, name: changed.name).hostKey == changed.hostKey)
        #expect(try await store.node(cluster: cluster, name: unpinned.name)?.node.hostKey == unpinned.hostKey)
    }

    @Test func aNodeReachableOnlyThroughABastionAnswers() async throws {
        let (store, inventory, _) = try await Lab.services(executor: Self.executor)
        var options = SSHOptions()
        options.connectTimeout = .seconds(2)
        let exec = ExecService(store: store, executor: Self.executor, options: options)
        let cluster = Lab.execClusters[0]
        let nodes = try await inventory.nodes(cluster: cluster).items
        let (bastion, hidden) = (nodes[0], nodes[4])
        // SSH to the hidden node is dropped unless it comes from the bastion.
        try Lab.filterSSH(hidden.name, "ip saddr != \(bastion.address) drop")
        defer { Lab.unfilterSSH(hidden.name) }
        let (direct, _) = try await self.exec(exec, cluster, ExecRequest(command: "hostname", nodes: [hidden.name], timeout: 5))
        #expect(direct.status == .failed)
        _ = try await inventory.updateNode(cluster: cluster, name: hidden.name, NodeInput(ssh: SSHOverrides(bastion: "root@\(bastion.address):22")), by: "test")
        let (run, hosts) = try await self.exec(exec, cluster, ExecRequest(command: "hostname", nodes: [hidden.name]))
        #expect(run.status == .succeeded)
        #expect(hosts.first?.stdout == hidden.name + "\n")
    }
}
