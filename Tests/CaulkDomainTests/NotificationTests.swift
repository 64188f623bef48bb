import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

/// Which runs are news to a webhook: an audit that ran to its end and found its cluster in
/// another state than the one before it (a first audit only when not healthy), and every repair
/// but a dry run; as a SQLite database records them.
@Suite struct NotificationRuleTests {
    let store: Store
    let notifications: Notifications

    init() async throws {
        store = try Store.inMemory()
        notifications = Notifications(store: store)
        _ = try await InventoryService(store: store).createCluster(
            ClusterInput(name: "prod-a", apiEndpoint: "https://198.18.1.1:6443"), by: "test")
        let cluster = try #require(try await store.cluster(named: "prod-a")?.cluster)
        _ = try await store.insert(WebhookRecord(
            name: "all", url: "http://127.0.0.1:9/", clusterId: cluster.id, events: NotificationKind.allCases.map(\.rawValue), format: "caulk",
            secret: "s", createdBy: "test", createdAt: Date()))
    }

    /// A run of `kind` ended with `status`, its summary naming `state`.
    func ended(_ kind: RunKind, _ status: RunStatus, state: ClusterState?, dryRun: Bool = false) async throws {
        var run = RunRecord(
            kind: kind, clusterId: nil, clusterName: "prod-a", trigger: .schedule, requester: "nightly", command: nil, parameters: [:], hostCount: 3,
            startedAt: Date())
        run.dryRun = dryRun
        run = try await store.insert(run)
        run.status = status
        run.finishedAt = Date()
        run.summary = state.map { #"{"state": "\#($0.rawValue)", "message": "3 node(s) repaired"}"# } ?? "{}"
        try await store.update(run)
        await notifications.runEnded(run)
    }

    /// What was queued, oldest first (nothing sends it here).
    func events() async throws -> [NotificationEvent] {
        try await store.dueDeliveries(at: .distantFuture, limit: 100).map {
            try JSONCoding.decoder().decode(NotificationEvent.self, from: Data($0.event.body.utf8))
        }
    }

    @Test func anAuditIsNewsWhenTheStateChanges() async throws {
        try await ended(.audit, .succeeded, state: .healthy)
        #expect(try await events().isEmpty, "a first audit that finds the cluster healthy is no news")
        try await ended(.audit, .succeeded, state: .healthy)
        try await ended(.audit, .succeeded, state: .broken)
        try await ended(.audit, .cancelled, state: .healthy)
        try await ended(.audit, .failed, state: nil)
        try await ended(.audit, .succeeded, state: .broken)
        try await ended(.audit, .succeeded, state: .healthy)
        let got = try await events()
        #expect(got.map(\.state) == [.broken, .healthy] && got.map(\.previousState) == [.healthy, .broken])
        #expect(got[0].event == .auditStateChanged && got[0].cluster == "prod-a" && got[0].trigger == .schedule && got[0].requester == "nightly")
        #expect(got[0].summary.hasPrefix("cluster prod-a is broken (was healthy): audit run"))
    }

    @Test func aFirstAuditThatFindsTroubleIsNews() async throws {
        try await ended(.audit, .succeeded, state: .unreachable)
        let got = try await events()
        #expect(got.count == 1 && got[0].state == .unreachable && got[0].previousState == nil && got[0].summary.contains("its first audit"))
    }

    @Test func everyRepairButADryRunIsNews() async throws {
        try await ended(.repair, .succeeded, state: .healthy, dryRun: true)
        try await ended(.repair, .failed, state: .broken)
        try await ended(.exec, .succeeded, state: nil)
        let got = try await events()
        #expect(got.count == 1 && got[0].event == .repairFinished && got[0].status == .failed && got[0].state == .broken)
        #expect(got[0].summary.contains("failed: 3 node(s) repaired"))
    }

    /// Retention (events_days) takes old events whose deliveries are all done, with them; one
    /// still to be sent stays, however old.
    @Test func retentionKeepsWhatIsStillToBeSent() async throws {
        let old = Date().addingTimeInterval(-100 * 86_400)
        try await store.enqueueNotification(NotificationEventRecord(kind: "reboot", cluster: "prod-a", summary: "done", body: "{}", createdAt: old))
        try await store.enqueueNotification(NotificationEventRecord(kind: "reboot", cluster: "prod-a", summary: "waiting", body: "{}", createdAt: old))
        var done = try #require(try await store.deliveries(DeliveryFilter(), before: nil, limit: 10).first { $0.summary == "done" }?.delivery)
        (done.status, done.attempts, done.finishedAt) = ("delivered", 1, old)
        try await store.recordAttempt(done)
        #expect(try await store.purgeableRows(.events, before: Date().addingTimeInterval(-30 * 86_400)) == 1)
        _ = try await store.purgeBatch(.events, before: Date().addingTimeInterval(-30 * 86_400), limit: 100, now: Date())
        #expect(try await store.deliveries(DeliveryFilter(), before: nil, limit: 10).map(\.summary) == ["waiting"])
    }

    /// A repair and an auto-repair cut short by caulk's own death are news once it starts again.
    @Test func aRestartTellsOfTheRepairItInterrupted() async throws {
        var run = RunRecord(
            kind: .repair, clusterId: nil, clusterName: "prod-a", trigger: .auto, requester: "auto-repair", command: nil, parameters: [:], hostCount: 3,
            startedAt: Date())
        run = try await store.insert(run)
        var decision = AutoRepairDecisionRecord(clusterId: nil, clusterName: "prod-a", rebootEventId: nil, nodeName: "n1", dueAt: Date(), createdAt: Date())
        (decision.decision, decision.repairRunId) = (.running, run.id)
        _ = try await store.insert(decision)
        #expect(try await RunHistory(store: store).interruptLeftovers() == 1)
        let got = try await events()
        #expect(got.map(\.event) == [.repairFinished, .autoRepair])
        #expect(got[0].status == .interrupted && got[0].run == run.id && got[0].summary.hasSuffix("interrupted: caulk stopped while the repair ran"))
        #expect(got[1].decision == .failed && got[1].repairRun == run.id && got[1].summary.contains("caulk stopped while the repair ran"))
    }

    /// A batch takes at most a few of each webhook's deliveries, the oldest: one whose receiver
    /// is down and has many waiting cannot keep the others' out.
    @Test func aBatchTakesAFewOfEachWebhooks() async throws {
        _ = try await store.insert(WebhookRecord(
            name: "other", url: "http://127.0.0.1:9/", clusterId: nil, events: ["reboot"], format: "slack", secret: "s", createdBy: "test",
            createdAt: Date()))
        let start = Date().addingTimeInterval(-60)
        for second in 0..<5 {
            try await store.enqueueNotification(NotificationEventRecord(
                kind: "repair-finished", cluster: "prod-a", summary: "r\(second)", body: "{}", createdAt: start.addingTimeInterval(Double(second))))
        }
        try await store.enqueueNotification(NotificationEventRecord(kind: "reboot", cluster: "prod-a", summary: "boot", body: "{}", createdAt: start + 10))
        let due = try await store.dueDeliveries(at: Date(), limit: 100, perWebhook: 2)
        #expect(due.map { "\($0.delivery.webhookName) \($0.event.summary)" } == ["all r0", "all r1", "other boot"])
    }

    @Test func bodiesByFormat() throws {
        var event = NotificationEvent(event: .auditStateChanged, at: Date(timeIntervalSince1970: 1_796_000_000), cluster: "prod-a", summary: "prod-a is degraded")
        (event.state, event.previousState) = (.degraded, .broken)
        let alerts = WebhookMessage.alerts(event)
        // The broken alert is resolved now, the degraded one fires for up to a week.
        #expect(alerts.map { $0.labels["state"] } == ["broken", "degraded"])
        #expect(alerts[0].endsAt == alerts[0].startsAt && alerts[1].endsAt == "2026-12-07T00:53:20Z")
        #expect(alerts.allSatisfy { $0.labels["alertname"] == "CaulkClusterUnhealthy" && $0.labels["cluster"] == "prod-a" })
        #expect(alerts.map { $0.labels["severity"] } == ["critical", "warning"])
        let slack = String(decoding: WebhookMessage.body(event, format: .slack), as: UTF8.self)
        #expect(slack == #"{"text":":large_yellow_circle: caulk: prod-a is degraded"}"#)
    }
}
