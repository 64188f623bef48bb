import ArgumentParser
import CaulkAPI
import Foundation

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Repair a cluster's pod network without a teardown (operator).",
        discussion: """
            By default runs calico-recover: audits the cluster, picks the repairs its
            findings call for, runs cluster-wide settings first (e.g. the checksum-offload
            override), then repairs node by node: apply, wait until the node is back,
            verify with a TCP probe across the overlay to healthy peers, next. The rollout
            stops at the first node that does not recover and touches no further node.
            Nodes without a finding are never changed. Then it audits again.

            A repair playbook can also be named (see `caulk playbooks`): vxlan-reset,
            offload-off, firewall-open, mtu-align, nm-unmanaged, rp-filter-loose (opt-in),
            ipip-fallback (opt-in, needs --confirm). One repair per cluster runs at a
            time; audits may run alongside.

            Exit status: 0 the cluster ended healthy (dry run: nothing to repair), 3 it
            did not (dry run: repairs planned), 1 error.

            Examples:
              caulk repair prod-a --dry-run     # every command, nothing changes
              caulk repair prod-a
              caulk repair prod-a --playbook firewall-open \\
                  --param ports='4789/udp 5473/tcp'
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
        // Each step as it finishes, from the run's event stream; the whole run once, at the end,
        // has every node's outcome.
        _ = try await client.follow(run: run.id) { event in
            if event.event == .step, event.outcome != .planned { progress(ProgressReporter.line(event)) }
        }
        let detail = try await client.get("/v1/runs/\(run.id)", as: RunDetail.self)
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
            ["repair run \(run.id) of \(run.cluster) (\(run.playbook ?? "-")\(repair.dryRun ? ", dry run" : "")): \(run.status.rawValue), by \(run.requester) (\(run.trigger.rawValue))"],
            ["audits: before \(repair.auditBefore.map(String.init) ?? "-"), after \(repair.auditAfter.map(String.init) ?? "-"); cluster \(repair.state?.rawValue ?? "unknown")"],
            [repair.message ?? (run.status == .interrupted ? "interrupted: caulk stopped while the repair ran; the nodes below say how far it got" : "")],
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
