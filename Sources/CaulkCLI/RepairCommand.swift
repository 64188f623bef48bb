import ArgumentParser
import CaulkAPI
import Foundation

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Repair a cluster's pod network without a teardown (operator).",
        discussion: """
            By default runs calico-recover: audits the cluster, picks the repairs its findings call for,
            runs cluster-wide settings first (e.g. the checksum-offload override), then repairs node by
            node: apply, wait until the node is back, verify with a TCP probe across the overlay to healthy
            peers, next. The rollout stops at the first node that does not recover and touches no further
            node. Nodes without a finding are never changed. Then it audits again.

            A repair playbook can also be named (see `caulk playbooks`): vxlan-reset, offload-off,
            firewall-open, mtu-align, nm-unmanaged, rp-filter-loose (opt-in), ipip-fallback (opt-in,
            needs --confirm). One repair per cluster runs at a time; audits may run alongside.

            Exit status: 0 the cluster ended healthy (dry run: nothing to repair), 3 it did not (dry run:
            repairs planned), 1 error.

            Examples:
              caulk repair prod-a --dry-run          # every command, with real values; nothing changes
              caulk repair prod-a
              caulk repair prod-a --playbook firewall-open --param ports='4789/udp 5473/tcp'
              caulk repair prod-a --batch 2 --max-failures 2
            """
    )
    @OptionGroup var options: ClientOptions
    @Argument(help: "Cluster to repair.") var cluster: String
    @Option(help: "Repair playbook (default calico-recover).") var playbook: String?
    @Flag(help: "Show what would run, per node, with real values; change nothing.") var dryRun = false
    @Option(help: "Only these nodes (comma-separated); each still needs a finding the repair addresses.") var nodes: String?
    @Option(help: "Nodes repaired at once (default 1 when a repair disrupts traffic, else 8).") var batch: Int?
    @Option(help: "Failed nodes after which the rollout stops (default 1).") var maxFailures: Int?
    @Option(help: "Seconds a repaired node has to pass the TCP probe (default 60).") var verifyTimeout: Int?
    @Flag(help: "Confirm a repair that changes the whole cluster (ipip-fallback).") var confirm = false
    @Option(name: .customLong("param"), help: "Playbook parameter name=value (repeatable).") var parameters: [KeyValue] = []
    @Flag(help: "Start the repair, print its run id and return.") var noWait = false

    func run() async throws {
        let client = try options.client()
        let request = RepairRequest(
            playbook: playbook, parameters: parameters.isEmpty ? nil : Dictionary(parameters.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            nodes: nodes?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, batch: batch, maxFailures: maxFailures,
            verifyTimeout: verifyTimeout, dryRun: dryRun ? true : nil, confirm: confirm ? true : nil)
        let run = try await client.post("/v1/clusters/\(segment(cluster))/repair", json: request, as: Run.self)
        if noWait {
            try options.out.emit(run) { [["RUN", "CLUSTER", "PLAYBOOK"], [String($0.id), $0.cluster, $0.playbook ?? "-"]] }
            return
        }
        // Progress goes where it does not mix with machine-readable output.
        let progress: (String) -> Void = options.output == .table ? { print($0) } : { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        progress("repair run \(run.id) of \(run.cluster) (\(run.playbook ?? "-")\(dryRun ? ", dry run" : "")): auditing…")
        var shownSteps = 0
        var shownNodes: [String: RepairNodeOutcome] = [:]
        var detail: RunDetail
        repeat {
            try await Task.sleep(for: .seconds(1))
            detail = try await client.get("/v1/runs/\(run.id)", as: RunDetail.self)
            guard let repair = detail.repair else { continue }
            // Steps as they finish, then each node's outcome once it has one.
            for step in repair.steps.dropFirst(shownSteps) where step.outcome != .planned {
                progress("  \(step.node ?? "(cluster)")  \(step.repair)/\(step.step) on \(step.host): \(step.outcome.rawValue) (\(Self.seconds(step.durationMs)))")
            }
            shownSteps = repair.steps.count
            for node in repair.nodes where shownNodes[node.node] != node.outcome && ![.pending, .running].contains(node.outcome) {
                shownNodes[node.node] = node.outcome
                progress("\(node.node): \(node.outcome.rawValue)\(node.reason.map { " — " + $0 } ?? "")")
            }
        } while detail.run.status == .running
        try options.out.emit(detail) { Self.rows($0) }
        guard let repair = detail.repair, let state = repair.state, detail.run.status != .cancelled, detail.run.status != .interrupted else { throw ExitCode(1) }
        let planned = repair.nodes.contains { $0.outcome == .planned } || repair.steps.contains { $0.outcome == .planned }
        if state != .healthy || (repair.dryRun && planned) { throw ExitCode(3) }
    }

    static func seconds(_ ms: Int) -> String { String(format: "%.1f s", Double(ms) / 1000) }

    /// The conclusion, each node's outcome, and (dry run) every command that would run.
    static func rows(_ detail: RunDetail) -> [[String]] {
        let run = detail.run
        guard let repair = detail.repair else { return [["run \(run.id): \(run.status.rawValue)"]] }
        var rows: [[String]] = [
            ["repair run \(run.id) of \(run.cluster) (\(run.playbook ?? "-")\(repair.dryRun ? ", dry run" : "")): \(run.status.rawValue), by \(run.requester) (\(run.trigger))"],
            ["audits: before \(repair.auditBefore.map(String.init) ?? "-"), after \(repair.auditAfter.map(String.init) ?? "-"); cluster \(repair.state?.rawValue ?? "unknown")"],
            [repair.message ?? ""],
        ]
        if !repair.nodes.isEmpty {
            rows += [[""], ["NODE", "FINDINGS", "REPAIRS", "OUTCOME", "REASON"]]
            rows += repair.nodes.map { [$0.node, $0.findings.joined(separator: " "), $0.repairs.joined(separator: " "), $0.outcome.rawValue, $0.reason ?? ""] }
        }
        let cluster = repair.steps.filter { $0.node == nil }
        if repair.dryRun, !repair.steps.isEmpty {
            rows += [[""], ["commands that would run (nothing was changed):"]]
            for step in repair.steps {
                rows.append(["# \(step.node ?? "cluster-wide") — \(step.repair)/\(step.step) on \(step.host)"])
                rows += step.command.split(separator: "\n", omittingEmptySubsequences: false).map { ["    " + $0] }
            }
        } else if !cluster.isEmpty {
            rows += [[""], ["CLUSTER STEP", "ON", "OUTCOME", "TIME"]]
            rows += cluster.map { ["\($0.repair)/\($0.step)", $0.host, $0.outcome.rawValue, seconds($0.durationMs)] }
        }
        return rows
    }
}

struct AutoRepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auto-repair",
        abstract: "Repair a cluster by itself after a node reboots (off by default).",
        discussion: """
            With the policy on, each reboot caulk records (boot beacon, or an audit that sees a new boot id)
            is followed, after --delay seconds, by an audit; if its findings are repairable, calico-recover
            runs (trigger `auto`). At most --max-per-hour auto-repairs per cluster per rolling hour, and never
            more than --max-share of the cluster's nodes disrupted at once. Reboots that arrive while one is
            waiting join it. Every decision, with why, is in `caulk auto-repair log`.

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
