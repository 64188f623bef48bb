import CaulkAPI
import CaulkDomain
import CaulkServer
import CaulkStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// An API over an in-memory database, with one token per role.
struct Harness {
    let services: Services
    let admin: String
    let op: String
    let viewer: String

    init(delivery: DeliveryPolicy = DeliveryPolicy()) async throws {
        services = try Services(store: try Store.inMemory(), delivery: delivery)
        admin = try await services.tokens.create(TokenInput(name: "root", role: .admin), by: "test").secret
        op = try await services.tokens.create(TokenInput(name: "ops", role: .operator), by: "test").secret
        viewer = try await services.tokens.create(TokenInput(name: "dash", role: .viewer), by: "test").secret
    }

    func application() -> some ApplicationProtocol {
        Application(router: buildRouter(services), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

struct Reply {
    let status: Int
    let body: Data

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONCoding.decoder().decode(type, from: body) }
    var error: APIErrorBody.Detail? { try? decode(APIErrorBody.self).error }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, raw: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let text = json ?? raw
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: text.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), body: Data(buffer: response.body))
        }
    }
}
