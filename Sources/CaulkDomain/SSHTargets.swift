import CaulkSSH
import CaulkStore
import Foundation

/// Turns inventory rows into SSH targets: the node's settings over its cluster's, the bastion's
/// host key taken from the inventory (a bastion must be a known node so its key is pinned).
struct SSHTargets {
    let store: Store
    /// Passphrase for encrypted private keys (CAULK_SSH_KEY_PASSPHRASE or …_FILE on the server).
    let passphrase: Secret?

    func target(cluster: ClusterRecord, node: NodeRecord, hostKey: HostKeyPolicy? = nil) async throws -> SSHTarget {
        guard let key = node.sshKey ?? cluster.sshKey else {
            throw DomainError.invalid(field: "ssh.key", message: "cluster \(cluster.name) has no SSH private key; set it with `caulk clusters set \(cluster.name) --ssh-key PATH`")
        }
        let user = node.sshUser ?? cluster.sshUser
        var target = SSHTarget(
            name: node.name, host: node.address, port: node.sshPort ?? cluster.sshPort, user: user, privateKey: key,
            passphrase: passphrase, hostKey: hostKey ?? node.hostKey.map { .pinned($0) } ?? .unknown, become: node.sshBecome ?? cluster.sshBecome)
        if let spec = node.bastion ?? cluster.bastion {
            target.bastion = try await bastion(spec, defaultUser: user, key: key)
        }
        return target
    }

    /// Every node's target, by node name.
    func targets(cluster: ClusterRecord, nodes: [NodeRecord]) async throws -> [String: SSHTarget] {
        var targets: [String: SSHTarget] = [:]
        for node in nodes { targets[node.name] = try await target(cluster: cluster, node: node) }
        return targets
    }

    private func bastion(_ spec: String, defaultUser: String, key: String) async throws -> Bastion {
        let address = try BastionAddress(spec, field: "ssh.bastion")
        let host = address.host
        guard let pin = try await store.node(matchingHost: host)?.hostKey else {
            throw DomainError.invalid(field: "ssh.bastion", message: "bastion \(host) is not a node with a pinned host key in the inventory; add it (with its key) so it can be checked")
        }
        return Bastion(host: host, port: address.port ?? 22, user: address.user ?? defaultUser, privateKey: key, passphrase: passphrase, hostKey: .pinned(pin))
    }
}
