import ArgumentParser
import CaulkAPI
import Foundation

struct AutoRepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auto-repair",
        abstract: "Repair a cluster by itself after a node reboots (off by default).",
        discussion: """
            With the policy on, each reboot caulk records (boot beacon, or an audit that
            sees a new boot id) is followed, after --delay seconds, by an audit; if its
            findings are repairable, calico-recover runs (trigger `auto`). At most
            --max-per-hour auto-repairs per cluster per rolling hour, and never more than
            --max-share of the cluster's nodes disrupted at once. Reboots that arrive
            while one is waiting join it. Every decision, with why, is in `caulk
            auto-repair log`.

            Examples:
              caulk auto-repair set prod-a --on --delay 120 --max-per-hour 2 --max-share 0.25
              caulk auto-repair log --cluster prod-a
            """,
        subcommands: [Show.self, SetPolicy.self, Log.self]
    )

    static func rows(_ policy: AutoRepairPolicy) -> [[String]] {
        [["CLUSTER", "AUTO-REPAIR", "DELAY", "MAX/HOUR", "MAX SHARE", "CHANGED BY", "CHANGED"],
         [policy.cluster, policy.enabled ? "on" : "off", "\(policy.delaySeconds) s", String(policy.maxPerHour),
          String(format: "%.0f %%", policy.maxDisruptedShare * 100), policy.updatedBy ?? "-", Output.date(policy.updatedAt)]]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A cluster's auto-repair policy.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster.") var cluster: String

        func run() async throws {
            let policy = try await options.client().get("/v1/clusters/\(segment(cluster))/auto-repair", as: AutoRepairPolicy.self)
            try options.out.emit(policy) { AutoRepairCommand.rows($0) }
        }
    }

    struct SetPolicy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Change a cluster's auto-repair policy (admin); options left out keep their value.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Cluster.") var cluster: String
        @Flag(name: .customLong("on"), help: "Turn auto-repair on.") var on = false
        @Flag(name: .customLong("off"), help: "Turn auto-repair off.") var off = false
        @Option(help: "Seconds after a reboot before the audit (0–86400, default 120).") var delay: Int?
        @Option(help: "Auto-repairs per cluster per rolling hour (1–60, default 2).") var maxPerHour: Int?
        @Option(help: "Largest share of nodes disrupted at once, e.g. 0.25 (default).") var maxShare: Double?

        func validate() throws {
            guard !(on && off) else { throw ValidationError("give --on or --off, not both") }
        }

        func run() async throws {
            let update = AutoRepairPolicyUpdate(enabled: on ? true : off ? false : nil, delaySeconds: delay, maxPerHour: maxPerHour, maxDisruptedShare: maxShare)
            let policy = try await options.client().put("/v1/clusters/\(segment(cluster))/auto-repair", json: update, as: AutoRepairPolicy.self)
            try options.out.emit(policy) { AutoRepairCommand.rows($0) }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What the policy decided after reboots, newest first.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only this cluster.") var cluster: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            let decisions = try await options.client().all(
                "/v1/auto-repairs", query: cluster.map { [("cluster", $0)] } ?? [], limit: limit, as: AutoRepairDecision.self)
            try options.out.emit(decisions) { decisions in
                [["ID", "CLUSTER", "NODE", "REBOOTS", "DUE", "DECISION", "AUDIT", "REPAIR", "REASON"]]
                    + decisions.map {
                        [String($0.id), $0.cluster, $0.node ?? "-", String($0.reboots), Output.date($0.dueAt), $0.decision.rawValue,
                         $0.auditRunId.map(String.init) ?? "-", $0.repairRunId.map(String.init) ?? "-", $0.reason ?? ""]
                    }
            }
        }
    }
}
