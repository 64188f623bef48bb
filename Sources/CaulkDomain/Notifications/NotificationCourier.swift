import CaulkAPI
import CaulkStore
import Foundation
import Logging
import Synchronization

/// What a webhook's receiver answered.
public struct WebhookAnswer: Sendable {
    public var status: Int
    /// Seconds, from a `Retry-After` header.
    public var retryAfter: Int?
    /// The start of the body, to say why it was refused.
    public var excerpt: String

    public init(status: Int, retryAfter: Int? = nil, excerpt: String = "") {
        self.status = status
        self.retryAfter = retryAfter
        self.excerpt = excerpt
    }
}

/// Sends webhook messages over HTTP(S). The server's uses AsyncHTTPClient; the domain knows no HTTP.
public protocol WebhookTransport: Sendable {
    /// Sends every message, at most `concurrency` at once, each within `timeout`, and hands each
    /// one's answer, or why there was none, to `answered` with its index as it comes.
    func send(
        _ messages: [WebhookMessage], concurrency: Int, timeout: Duration, answered: (Int, Result<WebhookAnswer, any Error>) async -> Void
    ) async
}

/// How deliveries are sent and tried again.
public struct DeliveryPolicy: Sendable, Equatable {
    /// Attempts before a delivery fails for good.
    public var attempts = 10
    /// The wait after the first failed attempt; it doubles with each one, up to `longestWait`.
    /// With the defaults a receiver may be down for about 85 minutes and miss nothing.
    public var firstWait: Duration = .seconds(10)
    public var longestWait: Duration = .seconds(3600)
    public var timeout: Duration = .seconds(10)
    public var concurrency = 8
    /// Deliveries taken from the queue at a time, and at most this many of one webhook's: a
    /// receiver that does not answer costs a batch one timeout, not many.
    public var batch = 64
    public var perWebhook = 8

    public init() {}

    /// The wait before attempt `attempts + 1`, with a tenth either way of jitter so that many
    /// deliveries to one receiver that failed together do not come back together.
    func wait(after attempts: Int) -> Duration {
        let base = firstWait * (1 << min(max(attempts - 1, 0), 20))
        let capped = min(base, longestWait)
        return capped * Double.random(in: 0.9...1.1)
    }
}

/// Sends queued deliveries in the background: each due one is sent signed, recorded `delivered`
/// on a 2xx, tried again with backoff after no answer, a 5xx, 408 or 429, and `failed` after any
/// other answer (the receiver refused it: a retry would be refused too) or its last attempt.
/// A delivery is recorded after it is sent, so one sent when the server died is sent again:
/// receivers see each delivery at least once, and `X-Caulk-Delivery` tells repeats.
public struct NotificationCourier: Sendable {
    let store: Store
    let transport: any WebhookTransport
    let policy: DeliveryPolicy
    /// Nothing is sent; deliveries stay queued (a copy of a production database, a drill).
    let hold: Bool
    let metrics: CaulkMetrics
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(
        store: Store, transport: any WebhookTransport, policy: DeliveryPolicy = DeliveryPolicy(), hold: Bool = false,
        metrics: CaulkMetrics = CaulkMetrics(), logger: Logger = Logger(label: "caulk"), clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.metrics = metrics
        self.transport = transport
        self.policy = policy
        self.hold = hold
        self.logger = logger
        self.clock = clock
    }

    /// Sends what is due until cancelled. Each webhook's deliveries go out in a task of its own
    /// (up to `perWebhook` at a time), so a receiver that does not answer holds up only its own;
    /// the queue is looked at again as soon as a webhook is free, else every `idle`.
    public func run(idle: Duration = .seconds(1)) async {
        guard !hold else {
            logger.warning("notifications are held (notify_hold): webhook deliveries are queued, none is sent")
            return
        }
        let busy = Busy()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                do {
                    let due = try await store.dueDeliveries(
                        at: clock(), limit: policy.batch, perWebhook: policy.perWebhook, except: busy.names.withLock { $0 })
                    for (webhook, items) in Dictionary(grouping: due, by: \.delivery.webhookName) {
                        busy.names.withLock { _ = $0.insert(webhook) }
                        group.addTask {
                            do {
                                try await deliver(items)
                            } catch {
                                logger.error("notifications to \(webhook): \(error)")
                            }
                            busy.names.withLock { _ = $0.remove(webhook) }
                            busy.freed.yield()
                        }
                    }
                } catch {
                    logger.error("notifications: \(error)")
                }
                // Until a webhook's task ends (its deliveries may not be all), or a while.
                await busy.wait(idle)
            }
        }
    }

    /// The webhooks with deliveries going out now, and a signal when one is done.
    private final class Busy: Sendable {
        let names = Mutex<Set<String>>([])
        let (signals, freed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

        func wait(_ limit: Duration) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [signals] in for await _ in signals { return } }
                group.addTask { try? await Task.sleep(for: limit) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Sends the deliveries due now, at most `perWebhook` of each webhook's, and waits for every
    /// answer; returns how many were tried.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let due = try await store.dueDeliveries(at: clock(), limit: policy.batch, perWebhook: policy.perWebhook)
        try await deliver(due)
        return due.count
    }

    /// Sends these, recording each as its answer comes.
    private func deliver(_ due: [DueDelivery]) async throws {
        var sendable: [(DeliveryRecord, WebhookMessage)] = []
        for item in due {
            var delivery = item.delivery
            guard let webhook = item.webhook else {
                try await record(&delivery, .failed, error: "the webhook was removed before this was delivered")
                continue
            }
            guard var event = try? JSONCoding.decoder().decode(NotificationEvent.self, from: Data(item.event.body.utf8)) else {
                try await record(&delivery, .failed, error: "the event's stored body could not be read")
                continue
            }
            event.id = item.event.id!
            sendable.append((delivery, WebhookMessage(event, delivery: delivery.id!, to: webhook, at: clock())))
        }
        var failure: (any Error)?
        await transport.send(sendable.map(\.1), concurrency: policy.concurrency, timeout: policy.timeout) { index, answer in
            var (delivery, message) = sendable[index]
            delivery.attempts += 1
            do {
                try await settle(&delivery, answer, url: message.url)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    private func settle(_ delivery: inout DeliveryRecord, _ answer: Result<WebhookAnswer, any Error>, url: String) async throws {
        let attempt = "attempt \(delivery.attempts) of \(policy.attempts)"
        switch answer {
        case .success(let answer) where (200..<300).contains(answer.status):
            delivery.lastStatusCode = answer.status
            try await record(&delivery, .delivered, error: nil)
        case .success(let answer) where [408, 429].contains(answer.status) || answer.status >= 500:
            delivery.lastStatusCode = answer.status
            try await retry(&delivery, "HTTP \(answer.status)\(Self.said(answer)) (\(attempt))", after: answer.retryAfter.map { .seconds($0) })
        case .success(let answer):
            delivery.lastStatusCode = answer.status
            let hint = (300..<400).contains(answer.status)
                ? "caulk follows no redirect; give the webhook the URL it redirects to"
                : "the receiver refused it, so it is not tried again; check the webhook's URL and format"
            try await record(&delivery, .failed, error: "HTTP \(answer.status)\(Self.said(answer)): \(hint)")
        case .failure(let error):
            delivery.lastStatusCode = nil
            try await retry(&delivery, "no answer from \(Self.origin(url)): \(error) (\(attempt))", after: nil)
        }
    }

    /// Waits its backoff (or what the receiver asked, within the longest wait) before the next
    /// attempt, or fails after the last.
    private func retry(_ delivery: inout DeliveryRecord, _ why: String, after asked: Duration?) async throws {
        guard delivery.attempts < policy.attempts else {
            return try await record(&delivery, .failed, error: why + "; out of attempts")
        }
        let wait = min(max(asked ?? .zero, policy.wait(after: delivery.attempts)), policy.longestWait)
        delivery.nextAttemptAt = clock().addingTimeInterval(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        delivery.lastError = why
        try await store.recordAttempt(delivery)
        metrics.webhookDelivery(webhook: delivery.webhookName, outcome: "retried")
        logger.notice("webhook \(delivery.webhookName): delivery \(delivery.id!) not delivered: \(why); next attempt in \(wait.components.seconds) s")
    }

    private func record(_ delivery: inout DeliveryRecord, _ status: DeliveryStatus, error: String?) async throws {
        delivery.status = status.rawValue
        delivery.lastError = error
        delivery.nextAttemptAt = nil
        delivery.finishedAt = clock()
        try await store.recordAttempt(delivery)
        metrics.webhookDelivery(webhook: delivery.webhookName, outcome: status.rawValue)
        if let error { logger.warning("webhook \(delivery.webhookName): delivery \(delivery.id!) failed: \(error)") }
    }

    private static func said(_ answer: WebhookAnswer) -> String {
        let excerpt = answer.excerpt.trimmingCharacters(in: .whitespacesAndNewlines)
        return excerpt.isEmpty ? "" : " (\(excerpt.prefix(200)))"
    }

    /// Scheme, host and port: a Slack URL's path is its secret, kept out of errors and logs.
    static func origin(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "the receiver" }
        return "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")"
    }
}
