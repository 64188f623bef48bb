import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation

/// Installs the boot beacon (`boot-beacon` playbook) so nodes announce their own boots: one
/// `node` token per node, written to the node (mode 0600) and never stored in clear.
public struct BeaconService: Sendable {
    let store: Store
    let runs: RunHistory
    let executor: SSHExecutor
    let tokens: TokenService
    let library: PlaybookLibrary
    let options: SSHOptions
    let passphrase: Secret?
    let clock: @Sendable () -> Date

    public static let playbook = "boot-beacon"

    public init(
        store: Store, executor: SSHExecutor, tokens: TokenService, library: PlaybookLibrary, options: SSHOptions = SSHOptions(),
        passphrase: Secret? = nil, runs: RunHistory? = nil, clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.runs = runs ?? RunHistory(store: store, clock: clock)
        self.executor = executor
        self.tokens = tokens
        self.library = library
        self.options = options
        self.passphrase = passphrase
        self.clock = clock
    }

    /// Runs the playbook on each node, recorded as a `beacon-install` run with one host row per node.
    public func install(cluster name: String, _ request: BeaconRequest, requester: String, trigger: RunTrigger) async throws -> RunDetail {
        let url = try Self.url(request.url)
        let playbook = try library.playbook(Self.playbook, kind: .repair)
        let cluster = try await store.requireCluster(named: name).cluster
        let nodes = try ExecService.only(request.nodes, of: try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node), cluster: cluster.name)
        guard !nodes.isEmpty else { throw DomainError.invalid(field: "nodes", message: "cluster \(cluster.name) has no nodes") }

        let resolver = SSHTargets(store: store, passphrase: passphrase)
        var jobs: [SSHJob] = []
        var tokenIds: [String: Int64] = [:]
        for node in nodes {
            let target = try await resolver.target(cluster: cluster, node: node)
            let token = try await tokens.createNodeToken(cluster: cluster.name, node: node)
            tokenIds[node.name] = token.id
            let values = PlaybookContext(parameters: ["url": url, "token": token.secret], cluster: cluster).values(node)
            jobs.append(SSHJob(target: target, commands: playbook.steps(.eachNode).map { $0.sshCommand(values) }))
        }
        let run = try await runs.start(RunHistory.Start(
            kind: .beaconInstall, cluster: cluster, trigger: trigger, requester: requester, parameters: ["url": url], hostCount: nodes.count,
            playbook: playbook.name))
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) })
        var failed = false
        do {
            for await outcome in executor.fanOut(jobs, options: options, run: run.id!) {
                let node = byName[outcome.target.name]!
                let record = HostRecords.record(Self.firstFailure(outcome), runId: run.id!, address: node.address, at: clock())
                let installed = record.outcome == .ok
                failed = failed || !installed
                try await tokens.settleNodeToken(id: tokenIds[node.name]!, nodeId: node.id!, installed: installed)
                try await store.recordHost(record, nodeId: node.id, seenAt: outcome.hostKey == nil ? nil : record.finishedAt)
            }
            try await runs.finish(run.id!, failed ? .failed : .succeeded)
        } catch {
            await runs.fail(run.id!, error)
            throw error
        }
        return try await runs.show(run.id!)
    }

    /// Revokes the `node` tokens of the named nodes, or of every node of the cluster: their
    /// beacons can announce nothing until `install` runs on them again.
    public func revoke(cluster name: String, nodes names: [String]?, by actor: String) async throws -> [TokenInfo] {
        let cluster = try await store.requireCluster(named: name).cluster
        let nodes = try ExecService.only(names, of: try await store.nodes(NodeFilter(clusterId: cluster.id), limit: Int.max).map(\.node), cluster: cluster.name)
        let activity = ActivityLog(store: store, clock: clock)
        return try await store.revokeNodeTokens(nodeIds: nodes.compactMap(\.id), at: clock()) { revoked in
            activity.entry(actor, .beaconRevoke, cluster: cluster.name, target: cluster.name, after: ["tokens_revoked": revoked.map(\.name).joined(separator: ",")])
        }.map(TokenInfo.init)
    }

    /// The outcome with only the step that failed (or the last one): what the host row shows.
    static func firstFailure(_ outcome: HostOutcome) -> HostOutcome {
        guard case .success(let results) = outcome.result else { return outcome }
        var shown = outcome
        shown.result = .success([results.first { !$0.succeeded } ?? results.last].compactMap { $0 })
        return shown
    }

    /// `http(s)://host[:port][/path]` of characters that need no quoting in the beacon's settings.
    static func url(_ text: String) throws(DomainError) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ":/.-_[]%"))
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.unicodeScalars.allSatisfy(allowed.contains), URL(string: text)?.host != nil else {
            throw .invalid(field: "url", message: "expected the caulk URL the nodes reach, like http://caulk.example:8420 (letters, digits and : / . - _ only)")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}
