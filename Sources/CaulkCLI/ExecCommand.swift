import ArgumentParser
import CaulkAPI
import Foundation

struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command on a cluster's nodes over SSH (admin, or an operator token made with --exec).",
        discussion: """
            Results stream in per node as each finishes; the run is recorded (`caulk runs
            show ID`). Hosts whose key is not pinned, or has changed, are refused and
            nothing is sent to them. Exit status: 0 when every node ran the command and it
            exited 0, otherwise 1.

            Example: caulk exec prod-a --role worker --timeout 10 -- 'ip -d link show
            vxlan.calico'
            """
    )
    @OptionGroup var options: ClientOptions
    @Argument(help: "Cluster name.") var cluster: String
    @Option(help: "Only these nodes (comma-separated).") var nodes: String?
    @Option(help: "Only control-plane or worker nodes.") var role: NodeRole?
    @Option(name: .customLong("label"), help: "Only nodes with this label key=value (repeatable).") var labels: [KeyValue] = []
    @Option(help: "Per-node command timeout, seconds.") var timeout: Int = 60
    @Option(help: "Nodes at once.") var concurrency: Int = 64
    @Option(help: "Output lines shown per node in the table.") var lines: Int = 1
    @Argument(parsing: .postTerminator, help: "The command, after --.") var command: [String] = []

    func run() async throws {
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        guard !words.isEmpty else { throw CLIError.usage("give the command after --, e.g. caulk exec \(cluster) -- hostname") }
        let request = ExecRequest(
            command: words.joined(separator: " "), nodes: nodes.map { $0.split(separator: ",").map(String.init) },
            role: role, labels: labels.isEmpty ? nil : labels.map(\.text), timeout: timeout, concurrency: concurrency)
        var hosts: [RunHost] = []
        var finished: Run?
        let table = options.output == .table
        let width = 24
        try await options.client().stream("/v1/clusters/\(segment(cluster))/exec", json: request) { line in
            let event = try JSONCoding.decoder().decode(ExecEvent.self, from: line)
            switch event.event {
            case .started:
                if table, let run = event.run { print("run \(run.id): \(run.hostCount) node(s) of \(run.cluster)") }
            case .host:
                guard let host = event.host else { return }
                hosts.append(host)
                if table { print(Self.describe(host, lines: lines, width: width)) }
            case .finished:
                finished = event.run
            }
        }
        guard let run = finished else { throw CLIError.failure("the server ended the stream before the run finished") }
        if table {
            let counts = HostOutcomeKind.allCases.compactMap { kind in run.outcomes[kind.rawValue].map { "\($0) \(kind.rawValue)" } }
            print("run \(run.id) \(run.status.rawValue): \(run.hostCount) node(s): \(counts.joined(separator: ", "))")
        } else {
            try options.out.emit(RunDetail(run: run, hosts: hosts.sorted { $0.node < $1.node })) { _ in [] }
        }
        if run.status != .succeeded { throw ExitCode(1) }
    }

    static func describe(_ host: RunHost, lines: Int, width: Int) -> String {
        let name = host.node.padding(toLength: max(width, host.node.count), withPad: " ", startingAt: 0)
        let status: String
        switch host.outcome {
        case .ok, .failed:
            status = host.exitSignal.map { "signal \($0)" } ?? "exit \(host.exitStatus.map(String.init) ?? "?")"
        case .timedOut:
            status = "timed out"
        case .error:
            status = host.errorKind ?? "error"
        }
        let detail: String
        if host.outcome == .error {
            detail = host.error ?? ""
        } else {
            let text = host.stdout.isEmpty ? host.stderr : host.stdout
            detail = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(lines).joined(separator: " ⏎ ")
                + (host.stdoutTruncated ? " [truncated]" : "")
        }
        return "\(name)  \(status.padding(toLength: 18, withPad: " ", startingAt: 0))  \(String(format: "%6.2fs", Double(host.durationMs) / 1000))  \(detail)"
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "History of runs: commands, audits and repairs.",
        subcommands: [List.self, Show.self, Watch.self, Cancel.self]
    )

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a running audit or repair to stop.",
            discussion: """
                A repair stops at its next step boundary: the node (or batch) it is on is
                finished and verified, the nodes after it are left untouched and marked
                skipped, and the run ends cancelled without an audit after it. An audit starts
                no more nodes and ends cancelled with the nodes it finished. Either way the
                cluster's lock is released when the run ends, and the run records who
                cancelled it. Needs the operator role. An exec ends with its own request
                (interrupt the caulk exec that runs it).

                Without --wait this returns once the server has the request; `caulk runs watch
                ID` follows the run to its end. Exit status: 0 asked (with --wait: the run has
                ended), 1 otherwise (no such run, already ended, or not an audit or repair).
                """)
        @OptionGroup var options: ClientOptions
        @Argument(help: "Run id (caulk runs list).") var id: Int64
        @Flag(help: "Return once the run has ended, and say how.") var wait = false

        func run() async throws {
            let client = try options.client()
            var run = try JSONCoding.decoder().decode(Run.self, from: try await client.send(.POST, "/v1/runs/\(id)/cancel"))
            if wait {
                _ = try await client.follow(run: id) { _ in }
                run = try await client.get("/v1/runs/\(id)", as: RunDetail.self).run
            }
            try options.out.emit(run) { run in
                let asked = "run \(run.id) (\(run.kind.rawValue) of \(run.cluster)): cancel asked by \(run.cancelledBy ?? "?")"
                return [[run.status == .running
                    ? asked + "; it stops at its next step boundary (caulk runs watch \(run.id) follows it)"
                    : asked + "; it ended \(run.status.rawValue) (caulk runs show \(run.id))"]]
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a run as it happens.",
            discussion: """
                Prints each audited node as it finishes (cluster/node, health, the warning and
                critical checks found on it), then how the run ended; `caulk runs show ID`
                has the final state, with what checks comparing nodes found at the end. With
                -o json, each event is one JSON line (NDJSON). A connection that breaks is
                picked up again where it left off; --after SEQ starts after an event already
                seen. Exit status: 0 the run succeeded, 1 it did not (or could not be followed).
                """)
        @OptionGroup var options: ClientOptions
        @Argument(help: "Run id.") var id: Int64
        @Option(help: "Start after this event (the seq of the last one seen).") var after: Int64 = 0

        func run() async throws {
            let json = options.output != .table
            let status = try await options.client().follow(run: id, after: after) { event in
                if json {
                    print(String(decoding: try JSONCoding.encoder().encode(event), as: UTF8.self))
                } else {
                    print(ProgressReporter.line(event))
                }
            }
            if status != .succeeded { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Runs, newest first.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Only this cluster's runs.") var cluster: String?
        @Option(help: "Only runs of this kind: \(RunKind.allCases.map(\.rawValue).joined(separator: ", ")).") var kind: RunKind?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            var query: [(String, String)] = []
            if let cluster { query.append(("cluster", cluster)) }
            if let kind { query.append(("kind", kind.rawValue)) }
            let runs = try await options.client().all("/v1/runs", query: query, limit: limit, as: Run.self)
            try options.out.emit(runs) { runs in
                [["ID", "KIND", "CLUSTER", "STATUS", "BY", "STARTED", "HOSTS", "COMMAND/PLAYBOOK"]]
                    + runs.map {
                        [String($0.id), $0.kind.rawValue, $0.cluster, $0.status.rawValue, $0.requester, Output.date($0.startedAt),
                         RunsCommand.progress($0),
                         String(($0.command ?? $0.playbook ?? "-").prefix(50))]
                    }
            }
        }
    }

    /// Hosts that went well, out of all: healthy nodes of an audit, recovered nodes of a repair.
    static func progress(_ run: Run) -> String {
        let (good, label) = switch run.kind {
        case .exec, .beaconInstall: (HostOutcomeKind.ok.rawValue, "ok")
        case .audit: (NodeHealth.healthy.rawValue, "healthy")
        case .repair where run.dryRun == true: (RepairNodeOutcome.planned.rawValue, "planned")
        case .repair: (RepairNodeOutcome.recovered.rawValue, "recovered")
        }
        return "\(run.outcomes[good] ?? 0)/\(run.hostCount) \(label)"
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One run with every host's result.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Run id.") var id: Int64
        @Option(help: "Output lines shown per node in the table.") var lines: Int = 3

        func run() async throws {
            let detail = try await options.client().get("/v1/runs/\(id)", as: RunDetail.self)
            try options.out.emit(detail) { detail in
                let run = detail.run
                let header = [["run \(run.id) \(run.kind.rawValue) on \(run.cluster): \(run.status.rawValue), by \(run.requester) (\(run.trigger.rawValue)), started \(Output.date(run.startedAt))"]]
                let failure = run.error.map { [["failed: \($0)"]] } ?? []
                let hosts = detail.hosts.map { [ExecCommand.describe($0, lines: lines, width: 24)] }
                switch run.kind {
                case .repair:
                    return RepairCommand.rows(detail)  // its message says why it stopped
                case .audit:
                    let state = detail.audit.map { "cluster \($0.state.rawValue)" } ?? "no result"
                    return header + failure + [["playbook \(run.playbook ?? "-"): \(state)"], [""]] + (detail.audit.map(NodesTable.rows) ?? [])
                case .exec:
                    return header + failure + [["command: \(run.command ?? "-")"]] + hosts
                case .beaconInstall:
                    return header + failure + [["playbook \(run.playbook ?? "-") (url \(run.parameters["url"] ?? "-"))"]] + hosts
                }
            }
        }
    }
}
