import AsyncHTTPClient
import CaulkAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// How the CLI checks the server over HTTPS, and proves itself when the server asks.
struct ClientTLS: Hashable, Sendable {
    var caFile: String?
    var certificate: String?
    var key: String?

    /// The client's TLS settings: the system's CAs unless a CA file is given.
    func configuration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile { tls.trustRoots = .certificates(try Self.read("--ca-file", caFile) { try NIOSSLCertificate.fromPEMFile($0) }) }
        switch (certificate, key) {
        case (nil, nil): break
        case (let certificate?, let key?):
            tls.certificateChain = try Self.read("--client-cert", certificate) { try NIOSSLCertificate.fromPEMFile($0) }.map { .certificate($0) }
            tls.privateKey = .privateKey(try Self.read("--client-key", key) { try NIOSSLPrivateKey(file: $0, format: .pem) })
        default: throw CLIError.usage("give both --client-cert and --client-key (or CAULK_CLIENT_CERT and CAULK_CLIENT_KEY), or neither")
        }
        return tls
    }

    private static func read<T>(_ option: String, _ path: String, _ body: (String) throws -> T) throws -> T {
        do {
            return try body(path)
        } catch {
            throw CLIError.usage("\(option) \(path): cannot read it as PEM (\(error))")
        }
    }
}

/// A thin client of the caulk REST API: one method per HTTP verb, errors carrying the server's message.
struct APIClient {
    let baseURL: String
    let token: String?
    var tls = ClientTLS()
    var timeout: TimeAmount = .seconds(120)

    func get<T: Decodable>(_ path: String, query: [(String, String)] = [], as type: T.Type) async throws -> T {
        try decode(type, from: try await send(.GET, path, query: query))
    }

    func post<T: Decodable>(_ path: String, query: [(String, String)] = [], json body: some Encodable, as type: T.Type) async throws -> T {
        try decode(type, from: try await send(.POST, path, query: query, body: try JSONCoding.encoder().encode(body), contentType: "application/json"))
    }

    func post<T: Decodable>(_ path: String, query: [(String, String)] = [], raw body: Data, contentType: String, as type: T.Type) async throws -> T {
        try decode(type, from: try await send(.POST, path, query: query, body: body, contentType: contentType))
    }

    func patch<T: Decodable>(_ path: String, json body: some Encodable, as type: T.Type) async throws -> T {
        try decode(type, from: try await send(.PATCH, path, body: try JSONCoding.encoder().encode(body), contentType: "application/json"))
    }

    func put<T: Decodable>(_ path: String, json body: some Encodable, as type: T.Type) async throws -> T {
        try decode(type, from: try await send(.PUT, path, body: try JSONCoding.encoder().encode(body), contentType: "application/json"))
    }

    @discardableResult
    func delete(_ path: String, query: [(String, String)] = []) async throws -> Data {
        try await send(.DELETE, path, query: query)
    }

    /// Every page of a list, following `next_cursor` until the end or `limit` items.
    func all<Item: Codable & Sendable>(_ path: String, query: [(String, String)], limit: Int?, as type: Item.Type) async throws -> [Item] {
        var items: [Item] = []
        var cursor: String?
        repeat {
            var pageQuery = query + [("limit", String(min(limit.map { $0 - items.count } ?? 1000, 1000)))]
            if let cursor { pageQuery.append(("cursor", cursor)) }
            let page = try await get(path, query: pageQuery, as: Page<Item>.self)
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil && (limit.map { items.count < $0 } ?? true)
        return items
    }

    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String? = nil) async throws -> Data {
        let response = try await start(method, path, query: query, body: body, contentType: contentType)
        do {
            return Data(buffer: try await response.body.collect(upTo: 256 * 1024 * 1024))
        } catch {
            throw CLIError.failure("the connection to \(baseURL) broke: \(Self.describe(error))")
        }
    }

    /// Posts JSON and hands each line of the streamed answer (NDJSON) to `onLine` as it arrives.
    func stream(_ path: String, json body: some Encodable, onLine: (Data) throws -> Void) async throws {
        try await stream(.POST, path, body: try JSONCoding.encoder().encode(body), contentType: "application/json", onLine: onLine)
    }

    /// Sends a request and hands each line of the streamed answer (NDJSON) to `onLine` as it arrives.
    func stream(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String? = nil, onLine: (Data) throws -> Void
    ) async throws {
        let response = try await start(method, path, query: query, body: body, contentType: contentType, timeout: .hours(24))
        var pending = Data()
        do {
            for try await buffer in response.body {
                pending.append(contentsOf: buffer.readableBytesView)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    if !line.isEmpty { try onLine(Data(line)) }
                }
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.failure("the connection to \(baseURL) broke: \(Self.describe(error))")
        }
    }

    /// Follows run `id` as it happens (`GET /v1/runs/{id}/events`), handing `onEvent` each event,
    /// and returns how the run ended. A connection that breaks (or a server that restarts) is
    /// picked up again after the last event seen, up to 5 tries in a row, 2 s apart.
    func follow(run id: Int64, after: Int64 = 0, onEvent: (RunEvent) throws -> Void) async throws -> RunStatus {
        var cursor = after, tries = 0
        while true {
            var ended: RunStatus?
            var broke: String?
            do {
                try await stream(.GET, "/v1/runs/\(id)/events", query: [("after", String(cursor))]) { line in
                    let event: RunEvent
                    do {
                        event = try JSONCoding.decoder().decode(RunEvent.self, from: line)
                    } catch {
                        throw CLIError.failure("\(baseURL) sent a run event caulk cannot read: \(String(decoding: line.prefix(200), as: UTF8.self))")
                    }
                    if let seq = event.seq { cursor = seq }
                    if event.event == .finished { ended = event.status ?? .failed }
                    tries = 0
                    try onEvent(event)
                }
            } catch CLIError.failure(let message) where message.hasPrefix("the connection") || message.hasPrefix("cannot reach") {
                broke = message
            }
            if let ended { return ended }
            tries += 1
            guard tries < 5 else { throw CLIError.failure(broke ?? "\(baseURL) ended run \(id)'s events before the run ended, \(tries) times in a row") }
            try await Task.sleep(for: .seconds(2))
        }
    }

    /// Sends a request and returns the response once its head arrived; non-2xx become `CLIError.server`.
    private func start(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String? = nil, timeout: TimeAmount? = nil) async throws -> HTTPClientResponse {
        var components = URLComponents(string: baseURL.hasSuffix("/") ? String(baseURL.dropLast()) + path : baseURL + path)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // `+` in a query means a space to most servers; encode it.
        let encodedQuery = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = encodedQuery
        guard let url = components?.url?.absoluteString, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw CLIError.usage("'\(baseURL)' is not a caulk URL like \(CLIConfig.defaultURL)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "caulk/\(CaulkCommand.configuration.version)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http(tls).execute(request, timeout: timeout ?? self.timeout)
        } catch let error as CLIError {
            throw error
        } catch {
            let reason = Self.describe(error)
            if reason.hasPrefix("the server's certificate") || reason.hasPrefix("the server refused") {
                throw CLIError.failure("cannot reach caulk at \(baseURL): \(reason)")
            }
            throw CLIError.failure("cannot reach caulk at \(baseURL): \(reason); is `caulk serve` running there? (set --url or CAULK_URL)")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let data = Data(buffer: (try? await response.body.collect(upTo: 1024 * 1024)) ?? ByteBuffer())
            let message = (try? JSONCoding.decoder().decode(APIErrorBody.self, from: data))?.error.message
                ?? String(decoding: data.prefix(500), as: UTF8.self)
            throw CLIError.server(status: Int(response.status.code), message: message.isEmpty ? response.status.reasonPhrase : message)
        }
        return response
    }

    /// One client per TLS setting for the life of the process (there is one), like
    /// `HTTPClient.shared`, but failing fast when the server is not there instead of retrying the
    /// connection until the request deadline.
    private static func http(_ tls: ClientTLS) throws -> HTTPClient {
        try clients.withLock { clients in
            if let client = clients[tls] { return client }
            var configuration = HTTPClient.Configuration(tlsConfiguration: try tls.configuration())
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.timeout.connect = .seconds(10)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[tls] = client
            return client
        }
    }

    private static let clients = Mutex<[ClientTLS: HTTPClient]>([:])

    private func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONCoding.decoder().decode(type, from: data)
        } catch {
            throw CLIError.failure("unexpected answer from \(baseURL) (is it a caulk server of the same version?): \(error)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("deadlineExceeded") || text.contains("connectTimeout") { return "timed out" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || text.contains("handshakeFailed") && text.contains("VERIFY") {
            return "the server's certificate is not trusted (CERTIFICATE_VERIFY_FAILED); give the CA that signed it with --ca-file or CAULK_CA_FILE"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("certificate required") || text.contains("ALERT_HANDSHAKE_FAILURE") {
            return "the server refused the TLS handshake; it may require a client certificate (--client-cert, --client-key)"
        }
        return text
    }
}
