import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// `caulk repair`, `runs show` of a repair and `auto-repair` through a live server, on cluster lab4.
@Suite(.serialized) struct RepairCLITests {
    static let cluster = "lab4"
    static let removeOverride = "kubectl patch felixconfiguration default --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/featureDetectOverride\"}]'"

    /// lab4 as the lab made it, and a live server with the lab imported.
    static func server() throws -> LiveServer {
        try restore()
        let server = try LiveServer()
        try server.start()
        try server.importLab()
        return server
    }

    static func restore() throws {
        _ = try LabFleet.ssh("198.18.4.1", removeOverride)
        for index in 1...6 { try LabFleet.lab("clear", "\(cluster)-n\(index)") }
        try LabFleet.lab("verify", cluster, "--wait", "40")
    }

    /// `caulk runs cancel` mid-rollout: the node in progress is finished and verified, the rest
    /// left untouched, the run ends cancelled with who asked, and the cluster's lock is free.
    @Test func cancelStopsARolloutAtTheNextNode() throws {
        let server = try Self.server()
        defer { try? Self.restore() }
        let admin = server.adminToken
        // A device reset disrupts traffic: one node at a time, each waiting for its new calico-node.
        let broken = (4...6).map { "\(Self.cluster)-n\($0)" }
        for node in broken { try LabFleet.lab("inject", "stale-vxlan", node) }

        var result = try server.caulk(["repair", Self.cluster, "--no-wait", "-o", "json"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        let run = try JSONCoding.decoder().decode(Run.self, from: Data(result.stdout.utf8))
        // Cancelled once the rollout has begun: the first node is running or done.
        var started = false
        for _ in 0..<600 where !started {
            result = try server.caulk(["runs", "show", String(run.id), "-o", "json"], token: admin)
            let nodes = try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8)).repair?.nodes ?? []
            started = nodes.contains { $0.outcome != .pending }
            if !started { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(started, "the rollout never began")
        result = try server.caulk(["runs", "cancel", String(run.id)], token: admin)
        #expect(result.status == 0 && result.stdout.contains("cancel asked by admin") && result.stdout.contains("next step boundary"), "\(result.stdout) \(result.stderr)")
        result = try server.caulk(["runs", "cancel", String(run.id), "--wait"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("it ended cancelled"), "\(result.stdout) \(result.stderr)")

        result = try server.caulk(["runs", "show", String(run.id), "-o", "json"], token: admin)
        let detail = try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8))
        #expect(detail.run.status == .cancelled && detail.run.cancelledBy == "admin")
        let nodes = detail.repair?.nodes ?? []
        #expect(Set(nodes.map(\.node)) == Set(broken))
        let skipped = nodes.filter { $0.outcome == .skipped }
        #expect(!skipped.isEmpty && skipped.count < broken.count, "\(nodes.map { "\($0.node) \($0.outcome)" })")
        #expect(skipped.allSatisfy { $0.reason?.contains("not touched: cancelled by admin") == true })
        #expect(nodes.allSatisfy { $0.outcome == .skipped || $0.outcome == .recovered }, "the node in progress was finished and verified: \(nodes.map { "\($0.node) \($0.outcome)" })")
        #expect(detail.repair?.message?.contains("cancelled by admin after") == true, "\(detail.repair?.message ?? "-")")
        let touched = Set((detail.repair?.steps ?? []).compactMap(\.node))
        #expect(touched.isDisjoint(with: skipped.map(\.node)), "no step ran on a skipped node: \(touched)")

        // The lock is free: the next repair starts at once and finishes the job.
        result = try server.caulk(["repair", Self.cluster], token: admin)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        try LabFleet.lab("verify", Self.cluster, "--wait", "10")
    }

    @Test func dryRunRepairConflictAndAutoRepairPolicy() throws {
        let server = try Self.server()
        defer { try? Self.restore() }
        let admin = server.adminToken
        try LabFleet.lab("inject", "firewall", "\(Self.cluster)-n5")

        // A dry run lists every command with real values, changes nothing, and exits 3: there is work to do.
        var result = try server.caulk(["repair", Self.cluster, "--dry-run"], token: admin)
        #expect(result.status == 3, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("commands that would run (nothing was changed)"), "\(result.stdout)")
        #expect(result.stdout.contains("# \(Self.cluster)-n5 — firewall-open/") && result.stdout.contains("firewall-cmd --permanent"), "\(result.stdout)")
        #expect(result.stdout.contains("# cluster-wide — offload-off/"), "F8's override is planned for the cluster")
        #expect(try LabFleet.ssh("198.18.4.5", "firewall-cmd --query-port=4789/udp").status != 0, "the port is still closed")
        result = try server.caulk(["runs", "list", "--cluster", Self.cluster, "--kind", "repair"], token: admin)
        #expect(result.stdout.contains("1/1 planned"), "the history tells a dry run from a repair: \(result.stdout)")

        // One repair per cluster: the second is refused, naming the first and who started it.
        result = try server.caulk(["repair", Self.cluster, "--no-wait", "-o", "json"], token: admin)
        #expect(result.status == 0, "\(result.stderr)")
        let run = try JSONCoding.decoder().decode(Run.self, from: Data(result.stdout.utf8))
        result = try server.caulk(["repair", Self.cluster], token: admin)
        #expect(result.status == 1 && result.stderr.contains("already being repaired by run \(run.id) (started by admin"), "\(result.stderr)")
        var detail: RunDetail?
        for _ in 0..<180 {
            result = try server.caulk(["runs", "show", String(run.id), "-o", "json"], token: admin)
            detail = try JSONCoding.decoder().decode(RunDetail.self, from: Data(result.stdout.utf8))
            if detail?.run.status != .running { break }
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(detail?.run.status == .succeeded && detail?.repair?.state == .healthy, "\(detail?.repair?.message ?? "-")")
        #expect(detail?.repair?.nodes.map(\.node) == ["\(Self.cluster)-n5"] && detail?.repair?.nodes.first?.outcome == .recovered)
        result = try server.caulk(["runs", "show", String(run.id)], token: admin)
        #expect(result.stdout.contains("\(Self.cluster)-n5") && result.stdout.contains("recovered") && result.stdout.contains("offload-off/"), "\(result.stdout)")
        try LabFleet.lab("verify", Self.cluster, "--wait", "10")

        // A healthy cluster: nothing to do, exit 0.
        result = try server.caulk(["repair", Self.cluster], token: admin)
        #expect(result.status == 0 && result.stdout.contains("nothing to repair: the cluster is healthy"), "\(result.stdout) \(result.stderr)")

        // The auto-repair policy: off by default, changed by an admin only.
        result = try server.caulk(["tokens", "create", "ops", "--role", "operator", "-o", "json"], token: admin)
        let operatorToken = try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret
        result = try server.caulk(["auto-repair", "show", Self.cluster, "-o", "json"], token: operatorToken)
        #expect(try JSONCoding.decoder().decode(AutoRepairPolicy.self, from: Data(result.stdout.utf8)).enabled == false)
        result = try server.caulk(["auto-repair", "set", Self.cluster, "--on"], token: operatorToken)
        #expect(result.status == 1 && result.stderr.contains("needs admin"), "\(result.stderr)")
        result = try server.caulk(["auto-repair", "set", Self.cluster, "--on", "--delay", "30", "--max-share", "0.5"], token: admin)
        #expect(result.status == 0 && result.stdout.contains("on") && result.stdout.contains("50 %"), "\(result.stdout) \(result.stderr)")
        result = try server.caulk(["auto-repair", "set", Self.cluster, "--max-share", "2"], token: admin)
        #expect(result.status == 1 && result.stderr.contains("max_disrupted_share"), "\(result.stderr)")
        result = try server.caulk(["auto-repair", "set", Self.cluster, "--off"], token: admin)
        #expect(result.stdout.contains("off") && result.stdout.contains("30 s"), "the rest of the policy is kept: \(result.stdout)")
        #expect(try server.caulk(["auto-repair", "log", "--cluster", Self.cluster], token: operatorToken).status == 0)
    }
}
