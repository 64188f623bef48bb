import CaulkAPI
import CaulkDomain
import Hummingbird
import NIOCore

/// `POST /v1/inventory/import`: the body is the inventory file itself.
struct InventoryController {
    let inventory: InventoryService

    static let maxFile = 32 * 1024 * 1024

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("inventory/import") { request, context in
            let identity = try context.require(.admin)
            let format = try request.query("format", as: InventoryFormat.self) ?? .auto
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: Self.maxFile)
            } catch {
                throw APIError.badRequest(field: nil, message: "inventory file is larger than \(Self.maxFile / 1024 / 1024) MiB")
            }
            guard let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes), text.utf8.count == buffer.readableBytes else {
                throw APIError.badRequest(field: nil, message: "inventory file must be UTF-8 text")
            }
            let result = try await inventory.importInventory(
                text, format: format, cluster: request.uri.queryParameters.get("cluster"), dryRun: try request.flag("dry_run"), by: identity.name)
            return try JSON.response(result)
        }
    }
}
