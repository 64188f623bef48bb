import AsyncHTTPClient
import CaulkDomain
import NIOCore

/// Webhook messages over HTTP(S) with AsyncHTTPClient: one client per batch (its connections
/// are reused within the batch, and nothing is left to shut down between batches), the system's
/// CAs, no redirects followed (a receiver that moved says so in the delivery's error). A refused
/// connection is tried again for up to 5 s before it counts as no answer.
struct HTTPWebhookTransport: WebhookTransport {
    /// What is read of a receiver's answer, to say why it refused.
    static let excerptBytes = 1024

    func send(
        _ messages: [WebhookMessage], concurrency: Int, timeout: Duration, answered: (Int, Result<WebhookAnswer, any Error>) async -> Void
    ) async {
        guard !messages.isEmpty else { return }
        let limit = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: limit))
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        await withTaskGroup(of: (Int, Result<WebhookAnswer, any Error>).self) { group in
            var next = 0
            func start() {
                let index = next
                next += 1
                group.addTask { (index, await Self.post(messages[index], client: client, timeout: limit)) }
            }
            while next < min(concurrency, messages.count) { start() }
            for await (index, answer) in group {
                await answered(index, answer)
                if next < messages.count { start() }
            }
        }
        try? await client.shutdown()
    }

    private static func post(_ message: WebhookMessage, client: HTTPClient, timeout: TimeAmount) async -> Result<WebhookAnswer, any Error> {
        do {
            var request = HTTPClientRequest(url: message.url)
            request.method = .POST
            for (name, value) in message.headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: message.body))
            let response = try await client.execute(request, timeout: timeout)
            var excerpt: [UInt8] = []
            for try await chunk in response.body {
                excerpt += chunk.readableBytesView.prefix(excerptBytes - excerpt.count)
                if excerpt.count >= excerptBytes { break }
            }
            return .success(WebhookAnswer(
                status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After").flatMap { Int($0) },
                excerpt: String(decoding: excerpt, as: UTF8.self)))
        } catch {
            return .failure(error)
        }
    }
}
