import CaulkAPI
import CaulkDomain
import CaulkStore
import CaulkTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CaulkServer

/// Webhooks against real receivers on 127.0.0.1: a Python http.server that records what it is
/// sent, and Debian's prometheus-alertmanager. Deliveries are sent by the server's own courier
/// over AsyncHTTPClient, one sweep at a time (`deliverDue`).
@Suite(.serialized) struct NotificationTests {
    /// Clusters prod-a and prod-b with a node n1 each.
    static func inventory(_ client: some TestClientProtocol, _ h: Harness) async throws {
        for (name, net) in [("prod-a", "1"), ("prod-b", "2")] {
            let cluster = #"{"name": "\#(name)", "api_endpoint": "https://198.18.\#(net).1:6443", "ssh": {"user": "root", "key": "/etc/caulk/id"}}"#
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: cluster).status == 201)
            let node = #"{"cluster": "\#(name)", "name": "n1", "address": "198.18.\#(net).10", "role": "worker"}"#
            #expect(try await client.call(.post, "/v1/nodes", token: h.admin, json: node).status == 201)
        }
    }

    static func boot(_ client: some TestClientProtocol, _ h: Harness, _ cluster: String, id: String) async throws -> Reply {
        try await client.call(.post, "/v1/nodes/\(cluster)/n1/boot", token: h.admin, json: #"{"boot_id": "\#(id)", "uptime_seconds": 42}"#)
    }

    @Test func aWebhookGetsTheEventsItTakesForItsClustersSigned() async throws {
        let h = try await Harness()
        let receiver = try WebhookReceiver()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            var reply = try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "fleet", "url": "\#(receiver.url)/fleet", "on": ["reboot"]}"#)
            #expect(reply.status == 201)
            let fleet = try reply.decode(CreatedWebhook.self)
            #expect(fleet.secret.count == 64 && fleet.webhook.format == .caulk && fleet.webhook.cluster == nil)
            reply = try await client.call(
                .post, "/v1/webhooks", token: h.admin,
                json: #"{"name": "team-b", "url": "\#(receiver.url)/b", "cluster": "prod-b", "on": ["repair-finished", "reboot"], "secret": "a-secret-of-our-own"}"#)
            #expect(reply.status == 201)
            #expect(try reply.decode(CreatedWebhook.self).webhook.on == [.repairFinished, .reboot])
            reply = try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "audits", "url": "\#(receiver.url)/audits", "on": ["audit-state-changed"]}"#)
            #expect(reply.status == 201)

            // prod-a's reboot: only the fleet-wide webhook takes it.
            #expect((200..<300).contains(try await Self.boot(client, h, "prod-a", id: "0123abcd-0123-4567-89ab-0123456789ab").status))
            #expect(try await h.services.courier.deliverDue() == 1)
            var got = receiver.requests()
            try #require(got.count == 1)
            #expect(got[0].path == "/fleet" && got[0].headers["x-caulk-event"] == "reboot" && got[0].headers["content-type"] == "application/json")
            #expect(got[0].isSigned(by: fleet.secret), "the signature does not verify: \(got[0].headers)")
            #expect(!got[0].isSigned(by: "another secret"))
            let event = try JSONCoding.decoder().decode(NotificationEvent.self, from: Data(got[0].body.utf8))
            #expect(event.event == .reboot && event.cluster == "prod-a" && event.node == "n1" && event.source == "beacon")
            #expect(event.bootId == "0123abcd-0123-4567-89ab-0123456789ab" && event.summary.contains("n1 of prod-a rebooted"))

            // The same boot again is no news; prod-b's goes to both of its webhooks.
            #expect((200..<300).contains(try await Self.boot(client, h, "prod-a", id: "0123abcd-0123-4567-89ab-0123456789ab").status))
            #expect((200..<300).contains(try await Self.boot(client, h, "prod-b", id: "1123abcd-0123-4567-89ab-0123456789ab").status))
            #expect(try await h.services.courier.deliverDue() == 2)
            got = receiver.requests()
            #expect(got.map(\.path).sorted() == ["/b", "/fleet", "/fleet"])
            let teamB = try #require(got.first { $0.path == "/b" })
            #expect(teamB.isSigned(by: "a-secret-of-our-own"))
            // One event, one id, for every webhook it went to; each delivery its own.
            let ids = got.filter { $0.body.contains("prod-b") }.map { try? JSONCoding.decoder().decode(NotificationEvent.self, from: Data($0.body.utf8)).id }
            #expect(ids.count == 2 && Set(ids).count == 1)
            #expect(Set(got.map { $0.headers["x-caulk-delivery"] }).count == 3)

            // The history: newest first, filtered, each delivered once with its answer.
            reply = try await client.call(.get, "/v1/deliveries", token: h.admin)
            let history = try reply.decode(Page<Delivery>.self).items
            #expect(history.count == 3 && history.allSatisfy { $0.status == .delivered && $0.attempts == 1 && $0.lastStatusCode == 200 })
            #expect(history.map(\.id) == history.map(\.id).sorted(by: >))
            reply = try await client.call(.get, "/v1/deliveries?webhook=team-b", token: h.admin)
            #expect(try reply.decode(Page<Delivery>.self).items.map(\.cluster) == ["prod-b"])
            reply = try await client.call(.get, "/v1/deliveries?status=pending", token: h.admin)
            #expect(try reply.decode(Page<Delivery>.self).items.isEmpty)
            #expect(try await client.call(.get, "/v1/deliveries?status=lost", token: h.admin).status == 400)

            // Listed without secrets; the activity log has who added them (not the URL's path).
            reply = try await client.call(.get, "/v1/webhooks", token: h.admin)
            #expect(try reply.decode([Webhook].self).map(\.name) == ["audits", "fleet", "team-b"])
            #expect(!String(decoding: reply.body, as: UTF8.self).contains(fleet.secret))
            reply = try await client.call(.get, "/v1/activity?action=webhook", token: h.admin)
            let entries = try reply.decode(Page<Activity>.self).items
            #expect(entries.count == 3 && entries.allSatisfy { $0.actor == "root" && $0.after?["url"] == receiver.url })
        }
    }

    @Test func whatTheAPIRefuses() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            for (body, field) in [
                (#"{"name": "x", "url": "ftp://198.18.0.1/", "on": ["reboot"]}"#, "url"),
                (#"{"name": "x", "url": "https://user:pw@hooks.example.com/", "on": ["reboot"]}"#, "url"),
                (#"{"name": "x", "url": "https://hooks.example.com/a b", "on": ["reboot"]}"#, "url"),
                (#"{"name": "x", "url": "https://hooks.example.com/", "on": []}"#, "on"),
                (#"{"name": "x", "url": "https://hooks.example.com/", "on": ["test"]}"#, "on"),
                (#"{"name": "x", "url": "https://hooks.example.com/", "on": ["reboot"], "secret": "short"}"#, "secret"),
                (#"{"name": "X!", "url": "https://hooks.example.com/", "on": ["reboot"]}"#, "name"),
            ] {
                let reply = try await client.call(.post, "/v1/webhooks", token: h.admin, json: body)
                #expect(reply.status == 400 && reply.error?.field == field, "\(body): \(reply.status) \(reply.error?.message ?? "")")
            }
            var reply = try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "x", "url": "https://hooks.example.com/", "cluster": "nosuch", "on": ["reboot"]}"#)
            #expect(reply.status == 404)
            let good = #"{"name": "x", "url": "https://hooks.example.com/", "on": ["reboot"]}"#
            #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: good).status == 201)
            reply = try await client.call(.post, "/v1/webhooks", token: h.admin, json: good)
            #expect(reply.status == 409 && reply.error?.message.contains("caulk notify remove x") == true)
            #expect(try await client.call(.post, "/v1/webhooks/nosuch/test", token: h.admin, json: "{}").status == 404)
            #expect(try await client.call(.get, "/v1/deliveries/7", token: h.admin).status == 404)
        }
    }

    /// After no answer, a 5xx or a 429 (waiting what Retry-After asks), tried again until
    /// delivered; a 404 fails at once; a receiver that never answers fails after the last attempt.
    @Test func retriesWithBackoffAndGivesUpWhenRefused() async throws {
        var policy = DeliveryPolicy()
        (policy.attempts, policy.firstWait) = (3, .milliseconds(200))
        let h = try await Harness(delivery: policy)
        let flaky = try WebhookReceiver(answers: [500, 429])
        let refusing = try WebhookReceiver(answers: [404])
        let gone = try WebhookReceiver()
        gone.stop()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            for (name, url) in [("flaky", flaky.url), ("refusing", refusing.url), ("gone", gone.url)] {
                #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "\#(name)", "url": "\#(url)/", "on": ["reboot"]}"#).status == 201)
            }
            #expect((200..<300).contains(try await Self.boot(client, h, "prod-a", id: "2123abcd-0123-4567-89ab-0123456789ab").status))
            func deliveries() async throws -> [String: Delivery] {
                let page = try await client.call(.get, "/v1/deliveries", token: h.admin).decode(Page<Delivery>.self)
                return Dictionary(uniqueKeysWithValues: page.items.map { ($0.webhook, $0) })
            }
            #expect(try await h.services.courier.deliverDue() == 3)
            var state = try await deliveries()
            #expect(state["flaky"]?.status == .pending && state["flaky"]?.lastStatusCode == 500 && state["flaky"]?.nextAttemptAt != nil)
            #expect(state["refusing"]?.status == .failed && state["refusing"]?.lastStatusCode == 404)
            #expect(state["refusing"]?.lastError?.contains("not tried again") == true)
            #expect(state["gone"]?.status == .pending && state["gone"]?.lastStatusCode == nil && state["gone"]?.lastError?.contains("no answer from") == true)
            let first = try #require(state["flaky"])
            #expect(first.nextAttemptAt! > first.createdAt.addingTimeInterval(0.15))

            let deadline = Date().addingTimeInterval(20)
            repeat {
                try await Task.sleep(for: .milliseconds(200))
                try await h.services.courier.deliverDue()
                state = try await deliveries()
            } while (state["flaky"]?.status == .pending || state["gone"]?.status == .pending) && Date() < deadline
            #expect(state["flaky"]?.status == .delivered && state["flaky"]?.attempts == 3 && state["flaky"]?.lastStatusCode == 200)
            #expect(flaky.requests().count == 3 && refusing.requests().count == 1)
            // The same delivery each time: one id a receiver can tell repeats by.
            #expect(Set(flaky.requests().map { $0.headers["x-caulk-delivery"] }).count == 1)
            #expect(state["gone"]?.status == .failed && state["gone"]?.attempts == 3 && state["gone"]?.lastError?.contains("out of attempts") == true)

            // What Prometheus sees: each attempt by outcome, nothing left waiting.
            let scrape = try await client.call(.get, "/metrics", token: h.viewer)
            let text = String(decoding: scrape.body, as: UTF8.self)
            for line in [
                #"caulk_webhook_deliveries_total{webhook="flaky",outcome="retried"} 2"#, #"caulk_webhook_deliveries_total{webhook="flaky",outcome="delivered"} 1"#,
                #"caulk_webhook_deliveries_total{webhook="refusing",outcome="failed"} 1"#, #"caulk_webhook_deliveries_total{webhook="gone",outcome="failed"} 1"#,
                #"caulk_webhook_deliveries_pending{webhook="flaky"} 0"#,
            ] {
                #expect(text.split(separator: "\n").contains { $0 == line || $0 == line + ".0" }, "\(line) missing from:\n\(text)")
            }
            try MetricsTests.promtool(text)
        }
    }

    /// The server's courier sends each webhook's deliveries in a task of its own: a receiver that
    /// does not answer (its connection is tried for 5 s) does not hold up another's.
    @Test func aReceiverThatIsDownHoldsUpNoOther() async throws {
        let h = try await Harness()
        let live = try WebhookReceiver()
        let dead = try WebhookReceiver()
        dead.stop()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            for (name, url) in [("dead", dead.url), ("live", live.url)] {
                #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "\#(name)", "url": "\#(url)/", "on": ["reboot"]}"#).status == 201)
            }
            let courier = Task { await h.services.courier.run(idle: .milliseconds(100)) }
            defer { courier.cancel() }
            for index in 0..<3 {
                #expect((200..<300).contains(try await Self.boot(client, h, "prod-a", id: "4123abcd-0123-4567-89ab-01234567890\(index)").status))
            }
            let got = try await live.wait(for: 3)
            let page = try await client.call(.get, "/v1/deliveries?webhook=dead", token: h.admin).decode(Page<Delivery>.self)
            #expect(got.count == 3 && page.items.count == 3, "\(got.count) \(page.items)")
            #expect(page.items.allSatisfy { $0.status == .pending && $0.attempts == 0 }, "the dead webhook's first attempts are still connecting: \(page.items)")
        }
    }

    /// A webhook removed with deliveries left: they fail saying so, keep its name, and never
    /// reach a webhook added after it.
    @Test func removingAWebhookFailsWhatWasLeftToSendToIt() async throws {
        let h = try await Harness()
        let old = try WebhookReceiver()
        let new = try WebhookReceiver()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "old", "url": "\#(old.url)/", "on": ["reboot"]}"#).status == 201)
            #expect((200..<300).contains(try await Self.boot(client, h, "prod-a", id: "3123abcd-0123-4567-89ab-0123456789ab").status))
            #expect(try await client.call(.delete, "/v1/webhooks/old", token: h.admin).status == 200)
            #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "new", "url": "\#(new.url)/", "on": ["reboot"]}"#).status == 201)
            try await h.services.courier.deliverDue()
            #expect(old.requests().isEmpty && new.requests().isEmpty)
            let items = try await client.call(.get, "/v1/deliveries", token: h.admin).decode(Page<Delivery>.self).items
            #expect(items.count == 1 && items[0].webhook == "old" && items[0].status == .failed && items[0].lastError?.contains("removed") == true)
            #expect(try await client.call(.get, "/v1/webhooks/old", token: h.admin).status == 404)
        }
    }

    /// `test`: queued for that webhook alone, whatever events it takes, and followed by id.
    @Test func aTestGoesToTheOneWebhook() async throws {
        let h = try await Harness()
        let receiver = try WebhookReceiver()
        try await h.application().test(.router) { client in
            for name in ["one", "two"] {
                #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: #"{"name": "\#(name)", "url": "\#(receiver.url)/\#(name)", "on": ["reboot"], "format": "slack"}"#).status == 201)
            }
            var reply = try await client.call(.post, "/v1/webhooks/two/test", token: h.admin, json: "{}")
            #expect(reply.status == 202)
            let queued = try reply.decode(Delivery.self)
            #expect(queued.status == .pending && queued.event == .test && queued.webhook == "two")
            try await h.services.courier.deliverDue()
            let got = receiver.requests()
            try #require(got.count == 1)
            // Slack's incoming webhooks take {"text": …} and nothing else is needed.
            let body = try #require(try JSONSerialization.jsonObject(with: Data(got[0].body.utf8)) as? [String: String])
            #expect(got[0].path == "/two" && body.keys.sorted() == ["text"] && body["text"]?.contains("a test of webhook two, sent by root") == true)
            reply = try await client.call(.get, "/v1/deliveries/\(queued.id)", token: h.admin)
            #expect(try reply.decode(Delivery.self).status == .delivered)
        }
    }

    /// The alertmanager format against Alertmanager itself: a cluster found broken fires
    /// CaulkClusterUnhealthy; found degraded next, the broken alert resolves and a degraded one
    /// fires; found healthy, none is left active.
    @Test func alertmanagerTakesTheAlertsAndResolvesThem() async throws {
        let binary = "/usr/bin/prometheus-alertmanager"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "prometheus-alertmanager is missing: `make test-deps` installs it")
        let alertmanager = try Alertmanager(binary: binary)
        defer { alertmanager.stop() }
        let h = try await Harness()
        try await h.application().test(.router) { client in
            try await Self.inventory(client, h)
            let body = #"{"name": "am", "url": "\#(alertmanager.url)/api/v2/alerts", "on": ["audit-state-changed"], "format": "alertmanager"}"#
            #expect(try await client.call(.post, "/v1/webhooks", token: h.admin, json: body).status == 201)
            var previous: ClusterState?
            for state in [ClusterState.broken, .degraded, .healthy] {
                var event = NotificationEvent(event: .auditStateChanged, at: Date(), cluster: "prod-a", summary: "prod-a is \(state.rawValue)")
                (event.state, event.previousState, event.run) = (state, previous, 7)
                try await h.services.store.enqueueNotification(Notifications.record(event))
                try await h.services.courier.deliverDue()
                let active = try await alertmanager.active()
                #expect(active == (state == .healthy ? [] : [state.rawValue]), "after \(state): \(active)")
                previous = state
            }
            let items = try await client.call(.get, "/v1/deliveries", token: h.admin).decode(Page<Delivery>.self).items
            #expect(items.count == 3 && items.allSatisfy { $0.status == .delivered && $0.lastStatusCode == 200 }, "\(items)")
        }
    }
}

/// Debian's prometheus-alertmanager on 127.0.0.1, with a route that sends nowhere.
final class Alertmanager: @unchecked Sendable {
    let url: String
    private let process: Process
    private let directory: URL

    init(binary: String) throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "caulk-alertmanager-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appending(path: "alertmanager.yml")
        try "route: {receiver: none}\nreceivers: [{name: none}]\n".write(to: config, atomically: true, encoding: .utf8)
        let port = Int.random(in: 20_000...40_000)
        url = "http://127.0.0.1:\(port)"
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(config.path)", "--storage.path=\(directory.path)", "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: directory.appending(path: "log").creatingFile())
        try process.run()
        for _ in 0..<100 {
            if (try? Command.run("/usr/bin/curl", ["-sf", "\(url)/-/ready"]).succeeded) == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw Command.Failure("alertmanager did not start on \(url)")
    }

    /// The `state` label of every active CaulkClusterUnhealthy alert.
    func active() async throws -> [String] {
        let result = try Command.run("/usr/bin/curl", ["-sf", "\(url)/api/v2/alerts?filter=alertname%3D%22CaulkClusterUnhealthy%22"])
        let alerts = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        return alerts.compactMap { alert in
            guard (alert["status"] as? [String: Any])?["state"] as? String == "active" else { return nil }
            return (alert["labels"] as? [String: String])?["state"]
        }.sorted()
    }

    func stop() {
        Command.stop(process)
        try? FileManager.default.removeItem(at: directory)
    }
}

extension URL {
    fileprivate func creatingFile() -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}
