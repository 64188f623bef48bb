import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// Pinning the host keys nodes show, on request (`caulk nodes trust`). Nothing is pinned before a
/// full login, and a changed key is re-pinned only against the fingerprint the caller expects.
public struct HostKeyTrust: Sendable {
    let store: Store
    let executor: SSHExecutor
    let options: SSHOptions
    let passphrase: Secret?
    let clock: @Sendable () -> Date

    public init(store: Store, executor: SSHExecutor, options: SSHOptions = SSHOptions(), passphrase: Secret? = nil, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.executor = executor
        self.options = options
        self.passphrase = passphrase
        self.clock = clock
    }

    /// Connects to each node, takes the key it shows and pins it (only if it equals `expect`,
    /// when given). Without names: every node of the cluster that has no pinned key.
    public func trust(cluster clusterName: String, _ request: TrustRequest, by actor: String) async throws -> [TrustResult] {
        let cluster = try await store.requireCluster(named: clusterName).cluster
        if let expect = request.expect { _ = try HostKey.fingerprint(expect, field: "expect") }
        let all = try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node)
        let nodes: [NodeRecord]
        if let names = request.nodes, !names.isEmpty {
            // A name given twice is one node (results and pins are per node).
            nodes = try names.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.map { name in
                guard let node = all.first(where: { $0.name == name }) else { throw DomainError.notFound("no node named \(name) in cluster \(cluster.name)") }
                return node
            }
        } else {
            nodes = all.filter { $0.hostKey == nil }
        }
        let targets = SSHTargets(store: store, passphrase: passphrase)
        var jobs: [SSHJob] = []
        for node in nodes {
            jobs.append(SSHJob(target: try await targets.target(cluster: cluster, node: node, hostKey: .trustOnFirstUse), commands: []))
        }
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) })
        var results: [TrustResult] = []
        for await outcome in executor.fanOut(jobs, options: options) {
            let node = byName[outcome.target.name]!
            var result = TrustResult(node: node.name, hostKey: outcome.hostKey, pinned: false, previous: node.hostKey, error: nil)
            // Pinned only after a full login: a host that shows a key but refuses us is not trusted.
            if case .failure(let error) = outcome.result {
                result.error = error.description + (outcome.hostKey == nil ? "" : "; not pinned")
            } else if let key = outcome.hostKey {
                if let expect = request.expect, expect != key {
                    result.error = "shows \(key), not the expected \(expect); not pinned"
                } else if let previous = node.hostKey, previous != key, request.expect == nil {
                    result.error = "shows \(key), not its pinned \(previous): its key changed. Check the new key out of band, then run "
                        + "`caulk nodes trust \(cluster.name) \(node.name) --expect \(key)`; not pinned"
                } else {
                    let entry = ActivityLog(store: store, clock: clock).entry(
                        actor, .nodeTrust, cluster: cluster.name, target: "\(cluster.name)/\(node.name)",
                        before: node.hostKey.map { ["host_key": $0] }, after: ["host_key": key])
                    try await store.pinHostKey(nodeId: node.id!, fingerprint: key, at: clock(), activity: entry)
                    result.pinned = true
                }
            }
            results.append(result)
        }
        return results.sorted { $0.node < $1.node }
    }
}
