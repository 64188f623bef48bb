import CaulkAPI
import CaulkStore
import Foundation

/// Clusters and nodes: listing, reading, creating, changing, deleting, importing.
public struct InventoryService: Sendable {
    let store: Store
    let clock: @Sendable () -> Date

    public init(store: Store, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.clock = clock
    }

    // MARK: Clusters

    /// `within`: only these clusters (a token limited to them); nil: every cluster.
    public func clusters(encapsulation: Encapsulation? = nil, within: [String]? = nil, paging: Paging = Paging()) async throws -> Page<Cluster> {
        let rows = try await store.clusters(encapsulation: encapsulation?.rawValue, within: within, after: paging.after, limit: paging.limit)
        return Page(
            items: rows.map(Cluster.init),
            nextCursor: paging.nextCursor(lastId: rows.last?.cluster.id, count: rows.count)
        )
    }

    public func cluster(_ name: String) async throws -> Cluster {
        Cluster(try await clusterRow(name))
    }

    var activity: ActivityLog { ActivityLog(store: store, clock: clock) }

    /// What an entry shows of a cluster or node: what was given, not what changes on its own.
    static let unshown: Set<String> = ["node_count", "created_at", "updated_at", "observed", "id"]

    public func createCluster(_ input: ClusterInput, by actor: String) async throws -> Cluster {
        let record = try InventoryRules.cluster(input, over: nil, now: clock())
        if try await store.cluster(named: record.name) != nil {
            throw DomainError.conflict("cluster \(record.name) already exists; change it with `caulk clusters set \(record.name) …`")
        }
        let activity = activity
        let inserted = try await mapConstraint("cluster \(record.name) already exists") {
            try await store.insert(record) { inserted in
                activity.entry(actor, .clusterCreate, cluster: inserted.name, target: inserted.name,
                               after: ActivityLog.fields(Cluster(ClusterRow(cluster: inserted, nodeCount: 0)), leaving: Self.unshown))
            }
        }
        return Cluster(ClusterRow(cluster: inserted, nodeCount: 0))
    }

    public func updateCluster(_ name: String, _ patch: ClusterInput, by actor: String) async throws -> Cluster {
        let row = try await clusterRow(name)
        if let newName = patch.name, newName != name {
            throw DomainError.invalid(field: "name", message: "a cluster cannot be renamed; create a new one and import its nodes")
        }
        let record = try InventoryRules.cluster(patch, over: row.cluster, now: clock())
        let updated = Cluster(ClusterRow(cluster: record, nodeCount: row.nodeCount))
        try await store.update(record, activity: activity.change(
            actor, .clusterUpdate, cluster: name, target: name, from: ActivityLog.fields(Cluster(row), leaving: Self.unshown),
            to: ActivityLog.fields(updated, leaving: Self.unshown)))
        return updated
    }

    public func deleteCluster(_ name: String, cascade: Bool, by actor: String) async throws {
        // What it was, as far as it can be read first; the store deletes only what it finds.
        let before = try await store.cluster(named: name).map { ActivityLog.fields(Cluster($0), leaving: Self.unshown.subtracting(["node_count"])) }
        let entry = activity.entry(actor, .clusterDelete, cluster: name, target: name, before: before)
        switch try await store.deleteCluster(named: name, cascade: cascade, activity: entry) {
        case .deleted:
            return
        case .notFound:
            throw DomainError.notFound("no cluster named \(name)")
        case .hasNodes(let count):
            throw DomainError.conflict("cluster \(name) still has \(count) node(s); delete them first or ask for cascade (`caulk clusters rm \(name) --cascade`)")
        }
    }

    // MARK: Nodes

    public func nodes(
        cluster: String? = nil, role: NodeRole? = nil, labels: [String] = [], within: [String]? = nil, paging: Paging = Paging()
    ) async throws -> Page<Node> {
        var filter = NodeFilter(role: role)
        filter.within = within
        if let cluster {
            filter.clusterId = try await clusterRow(cluster).cluster.id
        }
        filter.labels = try Validate.selectors(labels, field: "label")
        let rows = try await store.nodes(filter, after: paging.after, limit: paging.limit)
        return Page(items: rows.map(Node.init), nextCursor: paging.nextCursor(lastId: rows.last?.node.id, count: rows.count))
    }

    public func node(cluster: String, name: String) async throws -> Node {
        Node(try await nodeRow(cluster: cluster, name: name))
    }

    public func createNode(_ input: NodeInput, by actor: String) async throws -> Node {
        guard let name = input.cluster else { throw DomainError.invalid(field: "cluster", message: "is required") }
        let cluster = try await clusterRow(name).cluster
        let clusterName = cluster.name
        let record = try InventoryRules.node(input, clusterId: cluster.id!, over: nil, now: clock())
        if try await store.node(cluster: cluster.name, name: record.name) != nil {
            throw DomainError.conflict("node \(record.name) already exists in cluster \(cluster.name)")
        }
        let activity = activity
        let inserted = try await mapConstraint("node \(record.name) already exists in cluster \(cluster.name)") {
            try await store.insert(record) { inserted in
                activity.entry(actor, .nodeCreate, cluster: clusterName, target: "\(clusterName)/\(inserted.name)",
                               after: ActivityLog.fields(Node(NodeRow(node: inserted, clusterName: clusterName)), leaving: Self.unshown))
            }
        }
        return Node(NodeRow(node: inserted, clusterName: cluster.name))
    }

    public func updateNode(cluster: String, name: String, _ patch: NodeInput, by actor: String) async throws -> Node {
        let row = try await nodeRow(cluster: cluster, name: name)
        if let newName = patch.name, newName != name {
            throw DomainError.invalid(field: "name", message: "a node cannot be renamed; add it under the new name and delete the old one")
        }
        if let newCluster = patch.cluster, newCluster != cluster {
            throw DomainError.invalid(field: "cluster", message: "a node cannot move between clusters")
        }
        let record = try InventoryRules.node(patch, clusterId: row.node.clusterId, over: row.node, now: clock())
        let updated = Node(NodeRow(node: record, clusterName: cluster, observed: row.observed))
        try await store.update(record, activity: activity.change(
            actor, .nodeUpdate, cluster: cluster, target: "\(cluster)/\(name)", from: ActivityLog.fields(Node(row), leaving: Self.unshown),
            to: ActivityLog.fields(updated, leaving: Self.unshown)))
        return updated
    }

    public func deleteNode(cluster: String, name: String, by actor: String) async throws {
        let row = try await nodeRow(cluster: cluster, name: name)
        let entry = activity.entry(actor, .nodeDelete, cluster: cluster, target: "\(cluster)/\(name)", before: ActivityLog.fields(Node(row), leaving: Self.unshown))
        guard try await store.deleteNode(id: row.node.id!, activity: entry) else {
            throw DomainError.notFound("no node named \(name) in cluster \(cluster)")
        }
    }

    // MARK: Import

    /// Imports an inventory file: every cluster and node in it is created or updated in one
    /// transaction, or nothing is when any part is invalid.
    public func importInventory(_ text: String, format: InventoryFormat, cluster: String? = nil, dryRun: Bool, by actor: String) async throws -> ImportResult {
        let (detected, inventory) = try InventoryImport.parse(text, format: format, cluster: cluster, now: clock())
        let activity = activity
        let names = inventory.map(\.cluster.name)
        let counts = try await store.applyInventory(inventory, dryRun: dryRun, now: clock()) { clusters, nodes in
            guard clusters.created + clusters.updated + nodes.created + nodes.updated > 0 else { return nil }
            return activity.entry(
                actor, .inventoryImport, cluster: names.count == 1 ? names[0] : nil, target: names.count == 1 ? names[0] : "\(names.count) clusters",
                after: [
                    "format": detected.rawValue, "clusters": names.joined(separator: ","),
                    "clusters_created": String(clusters.created), "clusters_updated": String(clusters.updated),
                    "nodes_created": String(nodes.created), "nodes_updated": String(nodes.updated),
                ])
        }
        let clusters = ChangeCounts(created: counts.clusters.created, updated: counts.clusters.updated, unchanged: counts.clusters.unchanged)
        let nodes = ChangeCounts(created: counts.nodes.created, updated: counts.nodes.updated, unchanged: counts.nodes.unchanged)
        let total = "\(inventory.count) cluster(s), \(inventory.reduce(0) { $0 + $1.nodes.count }) node(s)"
        let message: String
        if !clusters.changed && !nodes.changed {
            message = "no changes: \(total) already up to date"
        } else {
            message = (dryRun ? "would change: " : "imported: ")
                + "clusters \(clusters.created) created, \(clusters.updated) updated, \(clusters.unchanged) unchanged; "
                + "nodes \(nodes.created) created, \(nodes.updated) updated, \(nodes.unchanged) unchanged"
        }
        return ImportResult(format: detected, dryRun: dryRun, clusters: clusters, nodes: nodes, message: message)
    }

    // MARK: Helpers

    private func clusterRow(_ name: String) async throws -> ClusterRow {
        try await store.requireCluster(named: name)
    }

    private func nodeRow(cluster: String, name: String) async throws -> NodeRow {
        _ = try Validate.name(name, field: "node")
        let clusterRow = try await clusterRow(cluster)
        guard let row = try await store.node(cluster: clusterRow.cluster.name, name: name) else {
            throw DomainError.notFound("no node named \(name) in cluster \(cluster)")
        }
        return row
    }

    /// A unique-constraint failure lost to a concurrent writer is a conflict, not a crash.
    private func mapConstraint<T>(_ message: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch where Store.isConstraintViolation(error) {
            throw DomainError.conflict(message)
        }
    }
}

extension Store {
    /// The cluster a request names: a valid name, and one that exists.
    func requireCluster(named name: String) async throws -> ClusterRow {
        _ = try Validate.name(name, field: "cluster")
        guard let row = try await cluster(named: name) else {
            throw DomainError.notFound("no cluster named \(name); `caulk clusters list` shows the known ones")
        }
        return row
    }
}
