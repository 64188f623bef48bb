import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// `caulk audit`, `health`, `reboots`, `schedules` and `beacon install` through a live server
/// that the lab's nodes can reach, on cluster lab4 (the fleet tests use lab1–lab3).
@Suite(.serialized) struct AuditCLITests {
    static let cluster = "lab4"

    /// `caulk runs cancel` of an audit: the node that finished is kept, no other starts, the run
    /// ends cancelled with who asked, and the next audit of the cluster is not refused.
    @Test func aCancelledAuditStartsNoMoreNodes() throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        try server.importLab()
        // One node at a time; asked to stop while kubectl still reads the cluster.
        var result = try server.caulk(["audit", Self.cluster, "--concurrency", "1", "--no-wait", "-o", "json"], token: admin)
        let run = try #require(try JSONCoding.decoder().decode(AuditsStarted.self, from: Data(result.stdout.utf8)).runs.first)
        result = try server.caulk(["runs", "cancel", String(run.id), "--wait", "-o", "json"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        result = try server.caulk(["runs", "show", String(run.id), "-o", "json"], token: admin)
        let detail = try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8))
        #expect(detail.run.status == .cancelled && detail.run.cancelledBy == "admin")
        // Each node finished looks first (here: the first, unless the machine is slow); none after.
        let audited = detail.audit?.nodes.count ?? 0
        #expect(audited >= 1 && audited < 6, "\(detail.audit?.nodes.map(\.node) ?? [])")
        result = try server.caulk(["audit", Self.cluster, "-o", "json"], token: admin)
        #expect(result.status == 3, "the lock is free: \(result.stderr)")
    }

    /// `caulk notify`: a webhook on a local receiver hears of the cluster's first audit and of
    /// the audit that found it broken (a node's firewall drops VXLAN), signed; a Slack one gets
    /// the same news as text; the delivery log has both delivered.
    @Test func aWebhookHearsOfTheAuditThatFoundTheClusterBroken() async throws {
        let server = try LiveServer()
        try server.start()
        let admin = server.adminToken
        try server.importLab()
        let node = "\(Self.cluster)-n5"
        try LabFleet.lab("clear", node)
        defer { try? LabFleet.lab("clear", node) }
        let receiver = try WebhookReceiver()

        var result = try server.caulk(
            ["notify", "add", "ops", "--to", receiver.url + "/caulk", "--on", "audit-state-changed,repair-finished", "--cluster", Self.cluster, "-o", "json"],
            token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        let secret = try JSONCoding.decoder().decode(CreatedWebhook.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["notify", "add", "chat", "--to", receiver.url + "/slack", "--format", "slack", "--on", "audit-state-changed"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("shown only now"), "\(result.stderr)")
        result = try server.caulk(["notify", "test", "ops"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("delivered"), "\(result.stdout) \(result.stderr)")

        func audit() throws -> RunDetail {
            let result = try server.caulk(["audit", Self.cluster, "-o", "json"], token: admin)
            return try #require(try JSONCoding.decoder().decode([RunDetail].self, from: Data(result.stdout.utf8)).first, "\(result.stderr)")
        }
        let first = try audit()
        try LabFleet.lab("inject", "firewall", node)
        let broken = try audit()
        #expect(broken.audit?.state == .broken, "\(broken.audit?.findings.map(\.check) ?? [])")

        let expected = first.audit?.state == .healthy ? 1 : 2
        let got = try await receiver.wait(for: 1 + 2 * expected)
        let news = got.filter { $0.path == "/caulk" && $0.headers["x-caulk-event"] == "audit-state-changed" }
        #expect(news.count == expected, "\(got.map(\.path))")
        #expect(news.allSatisfy { $0.isSigned(by: secret) })
        let last = try #require(try news.last.map { try JSONCoding.decoder().decode(NotificationEvent.self, from: Data($0.body.utf8)) })
        #expect(last.state == .broken && last.previousState == first.audit?.state && last.run == broken.run.id && last.cluster == Self.cluster)
        #expect(last.trigger == .cli && last.requester == "admin" && (last.critical ?? 0) >= 1, "\(last)")
        let slack = got.filter { $0.path == "/slack" }
        #expect(slack.count == expected && slack.last?.body.contains("cluster \(Self.cluster) is broken") == true, "\(slack.map(\.body))")

        result = try server.caulk(["notify", "log", "--webhook", "ops", "-o", "json"], token: admin)
        let log = try JSONCoding.decoder().decode([Delivery].self, from: Data(result.stdout.utf8))
        #expect(log.count == 1 + expected && log.allSatisfy { $0.status == .delivered && $0.attempts == 1 }, "\(log)")
        result = try server.caulk(["notify", "log", "--event", "audit-state-changed"], token: admin)
        #expect(result.stdout.contains("chat") && result.stdout.contains("HTTP 200"), "\(result.stdout)")
    }

    @Test func auditHealthRebootsSchedulesAndTheBootBeacon() throws {
        let server = try LiveServer()
        // The lab's own network; the beacon on its nodes speaks plain HTTP.
        try server.start(listen: "198.18.0.1:0", arguments: ["--insecure-http"])
        let admin = server.adminToken
        try server.importLab()
        try LabFleet.lab("clear", "\(Self.cluster)-n3")

        // A fresh lab cluster: every node healthy, F8's risk reported for the cluster → exit 3.
        var result = try server.caulk(["audit", Self.cluster, "-o", "json"], token: admin)
        #expect(result.status == 3, "\(result.stderr)")
        let details = try JSONCoding.decoder().decode([RunDetail].self, from: Data(result.stdout.utf8))
        let audit = try #require(details.first?.audit)
        #expect(audit.nodes.count == 6 && audit.nodes.allSatisfy { $0.health == .healthy })
        #expect(audit.findings.filter { $0.severity != .info }.map(\.check) == ["F8"])
        #expect(details[0].run.trigger == .cli && details[0].run.playbook == "calico-vxlan")

        result = try server.caulk(["audit", Self.cluster, "--progress", "lines"], token: admin)
        #expect(result.stdout.contains("\(Self.cluster)/\(Self.cluster)-n1  healthy") && result.stdout.contains("F8"), "\(result.stdout)")
        result = try server.caulk(["audit", "--all", Self.cluster], token: admin)
        #expect(result.status == 2 && result.stderr.contains("--all"))
        result = try server.caulk(["tokens", "create", "watcher", "--role", "viewer", "-o", "json"], token: admin)
        let viewer = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["audit", Self.cluster], token: viewer)
        #expect(result.status == 1 && result.stderr.contains("needs operator"))

        // A run followed after the fact: every node once, then the end; resumed after the fifth node.
        result = try server.caulk(["runs", "list", "--cluster", Self.cluster, "--kind", "audit", "--limit", "1", "-o", "json"], token: viewer)
        let last = try #require(try JSONCoding.decoder().decode([Run].self, from: Data(result.stdout.utf8)).first)
        result = try server.caulk(["runs", "watch", String(last.id), "-o", "json"], token: viewer)
        let watched = try result.stdout.split(separator: "\n").map { try JSONCoding.decoder().decode(RunEvent.self, from: Data($0.utf8)) }
        #expect(result.status == 0 && watched.count == 7 && watched.last?.status == .succeeded, "\(result.stdout) \(result.stderr)")
        #expect(Set(watched.compactMap(\.node)).count == 6)
        result = try server.caulk(["runs", "watch", String(last.id), "--after", String(watched[4].seq ?? 0)], token: viewer)
        #expect(result.stdout == "\(Self.cluster)/\(watched[5].node ?? "?")  healthy\nrun \(last.id) \(Self.cluster): succeeded\n", "\(result.stdout)")

        // The beacon: installed with a token of its own, announcing a reboot that an audit then does not count again.
        result = try server.caulk(["beacon", "install", Self.cluster, "--node-url", server.url], token: admin)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        result = try server.caulk(["runs", "list", "--kind", "beacon-install", "-o", "json"], token: viewer)
        let installs = try JSONCoding.decoder().decode([Run].self, from: Data(result.stdout.utf8))
        #expect(installs.count == 1 && installs[0].playbook == "boot-beacon" && installs[0].status == .succeeded, "\(result.stdout) \(result.stderr)")
        result = try server.caulk(["runs", "list", "--kind", "repair", "-o", "json"], token: viewer)
        #expect(try JSONCoding.decoder().decode([Run].self, from: Data(result.stdout.utf8)).isEmpty, "a beacon install is not a repair")
        let address = "198.18.4.3"
        #expect(try LabFleet.ssh(address, "stat -c %a /etc/caulk/beacon.token").stdout == "600\n")
        let nodeToken = try LabFleet.ssh(address, "cat /etc/caulk/beacon.token").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try server.caulk(["clusters", "list"], token: nodeToken).status == 1, "a node token reads nothing")
        try LabFleet.lab("reboot", "\(Self.cluster)-n3")
        // What systemd runs once the network is online after the boot.
        let beacon = try LabFleet.ssh(address, "/etc/caulk/boot-beacon")
        #expect(beacon.status == 0 && beacon.stdout.contains("\"recorded\":true"), "\(beacon.stdout) \(beacon.stderr)")
        #expect(try LabFleet.ssh("198.18.4.4", "sed -i 's/lab4-n4/lab4-n3/' /etc/caulk/beacon.conf && /etc/caulk/boot-beacon").status != 0,
                "one node's token cannot announce another node's boot")
        result = try server.caulk(["audit", Self.cluster, "-o", "json"], token: admin)
        result = try server.caulk(["reboots", "--cluster", Self.cluster, "-o", "json"], token: admin)
        let events = try JSONCoding.decoder().decode([RebootEvent].self, from: Data(result.stdout.utf8))
        #expect(events.count == 1 && events[0].node == "\(Self.cluster)-n3" && events[0].source == "beacon", "\(events)")

        // With Calico's offload override set, nothing is left to report: exit 0.
        let patch = "kubectl patch felixconfiguration default --type merge -p '{\"spec\":{\"featureDetectOverride\":\"ChecksumOffloadBroken=true\"}}'"
        #expect(try LabFleet.ssh("198.18.4.1", patch).status == 0)
        defer { _ = try? LabFleet.ssh("198.18.4.1", "kubectl patch felixconfiguration default --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/featureDetectOverride\"}]'") }
        result = try server.caulk(["audit", Self.cluster], token: admin)
        #expect(result.status == 0, "\(result.stdout)")
        result = try server.caulk(["health", Self.cluster], token: viewer)
        #expect(result.status == 0 && result.stdout.hasPrefix("\(Self.cluster): healthy"), "\(result.stdout)")

        // What Prometheus would scrape now: counted as it happened, and the fleet as it stands.
        let scrape = try Command.run("/usr/bin/curl", ["-sf", "-H", "Authorization: Bearer \(viewer)", server.url + "/metrics"])
        #expect(scrape.status == 0, "\(scrape.stderr)")
        let metrics = scrape.stdout.split(separator: "\n").map(String.init)
        func value(_ series: String) -> Double? {
            metrics.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(value(#"caulk_cluster_state{cluster="\#(Self.cluster)",state="healthy"}"#) == 1, "\(scrape.stdout)")
        #expect((value(#"caulk_runs_total{kind="audit",status="succeeded"}"#) ?? 0) >= 4)
        #expect(value(#"caulk_runs_total{kind="beacon-install",status="succeeded"}"#) == 1)
        #expect(value(#"caulk_reboots_total{source="beacon"}"#) == 1)
        #expect((value(#"caulk_ssh_operations_total{budget="runs"}"#) ?? 0) >= 24)
        #expect(value(#"caulk_ssh_slots{budget="runs"}"#) == 64 && value(#"caulk_ssh_slots_busy{budget="runs"}"#) == 0)
        #expect(metrics.contains { $0.hasPrefix("caulk_run_duration_seconds_bucket{kind=\"audit\"") })
        let promtool = try Command.run("/usr/bin/promtool", ["check", "metrics"], input: Data(scrape.stdout.utf8))
        #expect(promtool.status == 0, "promtool check metrics: \(promtool.stdout)\(promtool.stderr)")

        // Added last, so its runs cannot collide with the audits above (that would be a 409).
        let added = Date()
        result = try server.caulk(["schedules", "add", "tick", "--cron", "*/1 * * * *", "--cluster", Self.cluster], token: admin)
        #expect(result.status == 0 && result.stdout.contains("tick") && result.stdout.contains("active"), "\(result.stderr)")
        var scheduled: Run?
        while scheduled == nil, Date().timeIntervalSince(added) < 90 {
            result = try server.caulk(["runs", "list", "--cluster", Self.cluster, "--kind", "audit", "-o", "json"], token: admin)
            scheduled = try JSONCoding.decoder().decode([Run].self, from: Data(result.stdout.utf8)).first { $0.trigger == .schedule && $0.status != .running }
            if scheduled == nil { Thread.sleep(forTimeInterval: 2) }
        }
        #expect(scheduled?.status == .succeeded && scheduled?.requester == "schedule:tick" && scheduled?.outcomes["healthy"] == 6)
        result = try server.caulk(["schedules", "list", "-o", "json"], token: viewer)
        #expect(try JSONCoding.decoder().decode([Schedule].self, from: Data(result.stdout.utf8)).first?.lastRunAt != nil)
        #expect(try server.caulk(["schedules", "rm", "tick"], token: admin).status == 0)
    }
}
