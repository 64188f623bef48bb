import CaulkAPI
import CaulkDomain
import Hummingbird

/// `/v1/clusters`: list, read, create, change, delete.
struct ClustersController {
    let inventory: InventoryService

    static let inputKeys: [String: Set<String>] = [
        "": ["name", "api_endpoint", "pod_cidr", "encapsulation", "calico_namespace", "ssh"],
        "ssh": ["user", "port", "key", "bastion", "become"],
    ]
    /// A patch names the cluster in its path only.
    static let patchKeys = inputKeys.merging(["": inputKeys[""]!.subtracting(["name"])]) { $1 }
    static let refusedInPatch = ["name": "a cluster cannot be renamed; create a new one and import its nodes"]

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("clusters") { request, context in
            _ = try context.require(.viewer)
            let page = try await inventory.clusters(
                encapsulation: try request.query("encapsulation", as: Encapsulation.self), within: context.within, paging: try request.paging())
            return try JSON.response(page)
        }
        group.post("clusters") { request, context in
            let identity = try context.require(.admin)
            let input = try await JSON.decode(ClusterInput.self, from: request, allowedKeys: Self.inputKeys)
            return try JSON.response(try await inventory.createCluster(input, by: identity.name), status: .created)
        }
        group.get("clusters/:name") { _, context in
            _ = try context.require(.viewer, cluster: try context.parameters.require("name"))
            return try JSON.response(try await inventory.cluster(try context.parameters.require("name")))
        }
        group.patch("clusters/:name") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            let patch = try await JSON.decode(ClusterInput.self, from: request, allowedKeys: Self.patchKeys, refusedKeys: Self.refusedInPatch)
            return try JSON.response(try await inventory.updateCluster(try context.parameters.require("name"), patch, by: identity.name))
        }
        group.delete("clusters/:name") { request, context in
            let identity = try context.require(.admin, cluster: try context.parameters.require("name"))
            try await inventory.deleteCluster(try context.parameters.require("name"), cascade: try request.flag("cascade"), by: identity.name)
            return Response(status: .noContent)
        }
    }
}
