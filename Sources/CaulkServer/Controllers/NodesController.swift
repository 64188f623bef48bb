import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/nodes`: list with filters, read, create, change, delete.
struct NodesController {
    let inventory: InventoryService

    static let inputKeys: [String: Set<String>] = [
        "": ["cluster", "name", "address", "role", "labels", "ssh", "host_key"],
        "ssh": ["user", "port", "key", "bastion", "become"],
    ]
    /// A patch names the node and its cluster in its path only.
    static let patchKeys = inputKeys.merging(["": inputKeys[""]!.subtracting(["cluster", "name"])]) { $1 }
    static let refusedInPatch = [
        "name": "a node cannot be renamed; add it under the new name and delete the old one",
        "cluster": "a node cannot move between clusters; add it to the other cluster and delete it here",
    ]

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("nodes") { request, context in
            let cluster = request.uri.queryParameters.get("cluster")
            _ = try context.require(.viewer, clusters: cluster.map { [$0] } ?? [])
            let page = try await inventory.nodes(
                cluster: cluster,
                role: try request.query("role", as: NodeRole.self),
                labels: request.uri.queryParameters.getAll("label"),
                within: context.within,
                paging: try request.paging()
            )
            return try JSON.response(page)
        }
        group.post("nodes") { request, context in
            let identity = try context.require(.admin)
            let input = try await JSON.decode(NodeInput.self, from: request, allowedKeys: Self.inputKeys)
            return try JSON.response(try await inventory.createNode(input, by: identity.name), status: .created)
        }
        group.get("nodes/:cluster/:node") { _, context in
            _ = try context.require(.viewer, cluster: try context.parameters.require("cluster"))
            let node = try await inventory.node(cluster: try context.parameters.require("cluster"), name: try context.parameters.require("node"))
            return try JSON.response(node)
        }
        group.patch("nodes/:cluster/:node") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("cluster"))
            let patch = try await JSON.decode(NodeInput.self, from: request, allowedKeys: Self.patchKeys, refusedKeys: Self.refusedInPatch)
            let node = try await inventory.updateNode(
                cluster: try context.parameters.require("cluster"), name: try context.parameters.require("node"), patch, by: identity.name)
            return try JSON.response(node)
        }
        group.delete("nodes/:cluster/:node") { _, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("cluster"))
            try await inventory.deleteNode(cluster: try context.parameters.require("cluster"), name: try context.parameters.require("node"), by: identity.name)
            return Response(status: .noContent)
        }
    }
}
