import CaulkAPI
import CaulkSSH
import CaulkStore
import Foundation
import Synchronization
import Testing

@testable import CaulkDomain

@Suite struct ServiceTests {
    let store: Store
    let inventory: InventoryService
    let tokens: TokenService

    init() throws {
        store = try Store.inMemory()
        inventory = InventoryService(store: store)
        tokens = TokenService(store: store)
    }

    @Test func aRunsAnswerCarriesBoundedOutput() {
        func host(_ index: Int, bytes: Int) -> RunHost {
            RunHost(node: "n\(index)", address: "198.18.0.1", outcome: .ok, exitStatus: 0, exitSignal: nil, stdout: String(repeating: "x", count: bytes),
                    stderr: "e", stdoutTruncated: false, stderrTruncated: false, errorKind: nil, error: nil, durationMs: 1)
        }
        let small = (0..<10).map { host($0, bytes: 1000) }
        #expect(RunHistory.withinBudget(small) == small)
        let big = RunHistory.withinBudget((0..<600).map { host($0, bytes: 64 << 10) })
        let total = big.reduce(0) { $0 + $1.stdout.utf8.count + $1.stderr.utf8.count }
        #expect(total <= RunHistory.detailOutputBudget && big.allSatisfy { $0.stdoutTruncated && $0.stdout.utf8.count >= 4096 && !$0.stderrTruncated })
    }

    @Test func tokensAreStoredOnlyAsHashes() async throws {
        let created = try await tokens.create(TokenInput(name: "ci", role: .operator), by: "test")
        #expect(created.secret.hasPrefix("caulk_") && created.secret.count == 49)
        let stored = try await store.tokens(includeRevoked: true, limit: 10)
        #expect(stored.count == 1)
        #expect(stored[0].secretHash != created.secret && stored[0].secretHash.count == 64)
        #expect(try await tokens.authenticate(created.secret).identity == Identity(name: "ci", role: .operator))
        #expect(try await tokens.authenticate(created.secret + "x") == .refused)
        _ = try await tokens.revoke(name: "ci", by: "test")
        #expect(try await tokens.authenticate(created.secret) == .refused)
        // a revoked token frees its name
        _ = try await tokens.create(TokenInput(name: "ci", role: .viewer), by: "test")
        await #expect(throws: DomainError.self) { _ = try await tokens.create(TokenInput(name: "ci", role: .viewer), by: "test") }
    }

    /// Nothing over the API can lock every admin out.
    @Test func theLastAdminTokenCannotBeRevoked() async throws {
        _ = try await tokens.create(TokenInput(name: "root", role: .admin), by: "test")
        await #expect(throws: DomainError.conflict("root is the last admin token that still works; create another first (caulk tokens create NAME --role admin), then revoke this one")) {
            try await tokens.revoke(name: "root", by: "test")
        }
        _ = try await tokens.create(TokenInput(name: "second", role: .admin), by: "test")
        #expect(try await tokens.revoke(name: "root", by: "test").revokedAt != nil)
        await #expect(throws: DomainError.self) { try await tokens.revoke(name: "second", by: "test") }
    }

    /// A token with a lifetime works until then, and is refused after it with its name and when,
    /// not as unknown; an expired admin does not count as the admin that keeps everyone in.
    @Test func tokensExpireAndSaySo() async throws {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let tokens = TokenService(store: store, clock: { now.withLock { $0 } })
        let short = try await tokens.create(TokenInput(name: "short", role: .admin, ttlSeconds: 3600), by: "test")
        let expiry = Date(timeIntervalSince1970: 1_800_003_600)
        #expect(short.token.expiresAt == expiry)
        #expect(try await tokens.authenticate(short.secret).identity?.expiresAt == expiry)
        let forever = try await tokens.create(TokenInput(name: "forever", role: .admin), by: "test")
        #expect(forever.token.expiresAt == nil)

        now.withLock { $0 = expiry }
        #expect(try await tokens.authenticate(short.secret) == .expired(name: "short", at: expiry))
        #expect(try await tokens.authenticate(forever.secret).identity?.name == "forever")
        // The only admin left that works cannot go; the expired one can.
        await #expect(throws: DomainError.self) { try await tokens.revoke(name: "forever", by: "test") }
        #expect(try await tokens.revoke(name: "short", by: "test").revokedAt == expiry)
        #expect(try await tokens.authenticate(short.secret) == .refused)

        for ttl in [0, 59, TokenService.ttlRange.upperBound + 1, -1] {
            await #expect(throws: DomainError.self) { _ = try await tokens.create(TokenInput(name: "bad", role: .viewer, ttlSeconds: ttl), by: "test") }
        }
        #expect(Span.seconds("90m") == 5400 && Span.seconds("30d") == 2_592_000 && Span.seconds("2w") == 1_209_600)
        for text in ["", "30", "d", "1y", "-1d", "1.5h", "99999d", " 1d"] { #expect(Span.seconds(text) == nil, "\(text)") }
    }

    /// Running any command on nodes is granted per operator token; admins have it, viewers and
    /// node tokens never.
    @Test func execIsARightOfItsOwn() async throws {
        let plain = try await tokens.create(TokenInput(name: "plain", role: .operator), by: "test")
        let granted = try await tokens.create(TokenInput(name: "granted", role: .operator, exec: true), by: "test")
        let admin = try await tokens.create(TokenInput(name: "root", role: .admin), by: "test")
        #expect(!plain.token.exec && granted.token.exec && admin.token.exec)
        #expect(try await tokens.authenticate(plain.secret).identity?.exec == false)
        #expect(try await tokens.authenticate(granted.secret).identity?.exec == true)
        #expect(try await tokens.authenticate(admin.secret).identity?.exec == true)
        await #expect(throws: DomainError.self) { _ = try await tokens.create(TokenInput(name: "v", role: .viewer, exec: true), by: "test") }
        await #expect(throws: DomainError.self) { _ = try await tokens.create(TokenInput(name: "a", role: .admin, exec: true), by: "test") }
        #expect(try await tokens.list().items.map(\.exec) == [false, true, true])
    }

    @Test func bootstrapHappensOnlyOnAnEmptyDatabase() async throws {
        let first = try await tokens.bootstrapIfEmpty()
        #expect(first?.token.role == .admin)
        #expect(try await tokens.bootstrapIfEmpty() == nil)
    }

    @Test func listsPageWithCursorsAndFilter() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "big", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        _ = try await inventory.createCluster(ClusterInput(name: "other", apiEndpoint: "https://198.18.0.2:6443"), by: "test")
        for index in 1...250 {
            _ = try await inventory.createNode(NodeInput(
                cluster: index % 5 == 0 ? "other" : "big", name: "n\(index)", address: "198.18.1.\(index)",
                role: index <= 3 ? .controlPlane : .worker, labels: ["zone": index % 2 == 0 ? "a" : "b", "rack": "r\(index % 3)"]), by: "test")
        }
        var names: [String] = []
        var paging = Paging(limit: 100)
        var pages = 0
        while true {
            let page = try await inventory.nodes(cluster: "big", paging: paging)
            names += page.items.map(\.name)
            pages += 1
            guard let cursor = page.nextCursor else { break }
            paging = try Paging(cursor: cursor, limit: "100")
        }
        #expect(pages == 3)
        #expect(names.count == 200 && Set(names).count == 200)

        let zoneA = try await inventory.nodes(labels: ["zone=a", "rack=r0"], paging: Paging(limit: 1000)).items
        #expect(zoneA.count == (1...250).filter { $0 % 6 == 0 }.count)
        #expect(zoneA.allSatisfy { $0.labels["zone"] == "a" && $0.labels["rack"] == "r0" })
        #expect(try await inventory.nodes(role: .controlPlane).items.map(\.name) == ["n1", "n2", "n3"])
        #expect(throws: DomainError.invalid(field: "cursor", message: "is not a cursor this server issued; start again without it")) {
            _ = try Paging(cursor: "garbage", limit: nil)
        }
        #expect(throws: DomainError.self) { _ = try Paging(cursor: nil, limit: "5000") }
    }

    @Test func crudRulesSayWhatToDo() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "a", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        await #expect(throws: DomainError.self) { _ = try await inventory.createCluster(ClusterInput(name: "a", apiEndpoint: "https://198.18.0.1:6443"), by: "test") }
        _ = try await inventory.createNode(NodeInput(cluster: "a", name: "n1", address: "198.18.0.1"), by: "test")
        let conflict = await #expect(throws: DomainError.self) { try await inventory.deleteCluster("a", cascade: false, by: "test") }
        #expect(conflict?.description.contains("--cascade") == true)
        let changed = try await inventory.updateNode(cluster: "a", name: "n1", NodeInput(labels: ["zone": "b"], hostKey: "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"), by: "test")
        #expect(changed.labels == ["zone": "b"] && changed.hostKey != nil)
        let cleared = try await inventory.updateNode(cluster: "a", name: "n1", NodeInput(hostKey: ""), by: "test")
        #expect(cleared.hostKey == nil)
        await #expect(throws: DomainError.notFound("no node named n9 in cluster a")) { try await inventory.deleteNode(cluster: "a", name: "n9", by: "test") }
        try await inventory.deleteCluster("a", cascade: true, by: "test")
        await #expect(throws: DomainError.self) { _ = try await inventory.cluster("a") }
    }

    /// A fleet-wide audit (or schedule) runs what it can: one cluster without nodes or a key is
    /// skipped with why, instead of failing them all.
    @Test func anAllClusterAuditSkipsClustersItCannotAuditSayingWhy() async throws {
        let audits = AuditService(store: store, executor: SSHExecutor(threads: 1), library: try PlaybookLibrary())
        _ = try await inventory.createCluster(ClusterInput(name: "empty", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        _ = try await inventory.createCluster(ClusterInput(name: "keyless", apiEndpoint: "https://198.18.0.2:6443"), by: "test")
        _ = try await inventory.createNode(NodeInput(cluster: "keyless", name: "n1", address: "198.18.0.2"), by: "test")
        let started = try await audits.start(AuditRequest(all: true), requester: "test", trigger: .schedule)
        #expect(started.runs.isEmpty)
        #expect(started.skipped.sorted() == [
            "cluster empty was not audited: clusters: cluster empty has no nodes to audit",
            "cluster keyless was not audited: ssh.key: cluster keyless has no SSH private key; set it with `caulk clusters set keyless --ssh-key PATH`",
        ], "\(started.skipped)")
        await #expect(throws: DomainError.self) { try await audits.start(AuditRequest(clusters: ["empty"]), requester: "test", trigger: .api) }
    }

    /// What audits observed about a node (its boot) survives every inventory change.
    @Test func anInventoryUpdateKeepsTheObservedBoot() async throws {
        _ = try await inventory.createCluster(ClusterInput(name: "b", apiEndpoint: "https://198.18.0.1:6443"), by: "test")
        let node = try await inventory.createNode(NodeInput(cluster: "b", name: "n1", address: "198.18.0.1"), by: "test")
        let id = try #require(try await store.node(cluster: "b", name: node.name)?.node.id)
        let booted = Date(timeIntervalSince1970: 1_790_000_000)
        _ = try await store.recordBoot(nodeId: id, bootId: "boot-1", bootedAt: booted, seenAt: booted.addingTimeInterval(60), source: "audit", runId: nil)
        _ = try await inventory.updateNode(cluster: "b", name: "n1", NodeInput(labels: ["zone": "a"]), by: "test")
        let after = try #require(try await store.node(cluster: "b", name: "n1")?.observed)
        #expect(after.lastBootId == "boot-1" && after.lastBootedAt == booted)
        #expect(try await inventory.node(cluster: "b", name: "n1").lastBootId == "boot-1")
    }
}
