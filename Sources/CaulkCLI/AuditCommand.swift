import ArgumentParser
import CaulkAPI
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit clusters for the Calico VXLAN failure modes (operator).",
        discussion: """
            Runs the audit playbook (default calico-vxlan: checks F1–F8 and a TCP/ICMP
            probe across the overlay) on every node of each cluster, shows progress as
            nodes finish, and ends with the findings. Nothing on the nodes is changed.
            Each cluster's audit is a run (`caulk runs show ID`); `caulk health CLUSTER`
            shows the latest one.

            Exit status: 0 every cluster healthy (info findings only), 3 findings (warning
            or critical, or unreachable nodes), 1 error (an audit could not run).

            Examples:
              caulk audit prod-a prod-b
              caulk audit --all -o json > audit.json
              caulk audit prod-a --param probe_peers=3
            """
    )
    @OptionGroup var options: ClientOptions
    @Argument(help: "Clusters to audit.") var clusters: [String] = []
    @Flag(help: "Audit every cluster in the inventory.") var all = false
    @Option(help: "Audit playbook (see `caulk playbooks`).") var playbook: String?
    @Option(name: .customLong("param"), help: "Playbook parameter name=value (repeatable).") var parameters: [KeyValue] = []
    @Option(help: "Nodes at once per cluster.") var concurrency: Int?
    @Flag(help: "Start the audits, print their run ids and return.") var noWait = false
    @Option(help: "Progress: auto (a bar on a terminal, lines otherwise), bar, lines or none.") var progress: ProgressStyle = .auto

    enum ProgressStyle: String, ExpressibleByArgument, CaseIterable { case auto, bar, lines, none }

    func validate() throws {
        guard all != !clusters.isEmpty else { throw ValidationError("name one or more clusters, or give --all") }
    }

    func run() async throws {
        let client = try options.client()
        let request = AuditRequest(
            clusters: all ? nil : clusters, all: all ? true : nil, playbook: playbook,
            parameters: parameters.isEmpty ? nil : Dictionary(parameters.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }), concurrency: concurrency)
        let started = try await client.post("/v1/audits", json: request, as: AuditsStarted.self)
        for skipped in started.skipped { FileHandle.standardError.write(Data("caulk: not started: \(skipped)\n".utf8)) }
        if noWait {
            try options.out.emit(started) { started in [["RUN", "CLUSTER", "NODES"]] + started.runs.map { [String($0.id), $0.cluster, String($0.hostCount)] } }
            return
        }
        // Each run's nodes as they land (one stream per run), then each run's final state once.
        var reporter = ProgressReporter(style: resolvedStyle, total: started.runs.reduce(0) { $0 + $1.hostCount })
        let (events, sink) = AsyncStream.makeStream(of: RunEvent.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { sink.finish() }
                try await withThrowingTaskGroup(of: Void.self) { followers in
                    for run in started.runs {
                        followers.addTask { _ = try await client.follow(run: run.id) { sink.yield($0) } }
                    }
                    try await followers.waitForAll()
                }
            }
            for await event in events { reporter.update(event) }
            try await group.waitForAll()
        }
        reporter.finish()
        var results: [RunDetail] = []
        for run in started.runs { results.append(try await client.get("/v1/runs/\(run.id)", as: RunDetail.self)) }
        try Self.report(results, out: options.out)
        if results.contains(where: { $0.run.status != .succeeded }) { throw ExitCode(1) }
        if results.contains(where: { Self.hasFindings($0.audit) }) { throw ExitCode(3) }
    }

    private var resolvedStyle: ProgressStyle {
        guard progress == .auto else { return progress }
        if options.output != .table { return isatty(STDERR_FILENO) != 0 ? .bar : .none }
        return isatty(STDOUT_FILENO) != 0 ? .bar : .lines
    }

    static func hasFindings(_ audit: AuditResult?) -> Bool {
        guard let audit else { return false }
        return audit.findings.contains { $0.severity != .info } || audit.nodes.contains { $0.health == .unreachable }
    }

    /// One line per cluster, then the findings, worst first.
    static func report(_ details: [RunDetail], out: Output) throws {
        try out.emit(details) { details in
            var rows: [[String]] = []
            for detail in details {
                let run = detail.run
                let counts = NodeHealth.allCases.compactMap { health in run.outcomes[health.rawValue].map { "\($0) \(health.rawValue)" } }
                rows.append(["\(run.cluster): \(detail.audit?.state.rawValue ?? run.status.rawValue) — \(run.hostCount) node(s): \(counts.joined(separator: ", ")) (run \(run.id), \(run.status.rawValue))"])
            }
            let findings = details.flatMap { detail in (detail.audit?.findings ?? []).map { (detail.run.cluster, $0) } }
                .sorted { ($0.1.severity, $1.0, $1.1.node ?? "") > ($1.1.severity, $0.0, $0.1.node ?? "") }
            guard !findings.isEmpty else { return rows + [["no findings"]] }
            rows.append([""])
            rows.append(["CLUSTER", "NODE", "CHECK", "SEVERITY", "MESSAGE", "REPAIR"])
            rows += findings.map { [$0.0, $0.1.node ?? "(cluster)", $0.1.check, $0.1.severity.rawValue, $0.1.message, $0.1.repair ?? "-"] }
            return rows
        }
    }
}

/// Live progress of audits: a redrawn bar on a terminal (stderr), or a line per node as it finishes.
struct ProgressReporter {
    let style: AuditCommand.ProgressStyle
    let total: Int
    private var seen: Set<String> = []
    private var health: [NodeHealth: Int] = [:]

    init(style: AuditCommand.ProgressStyle, total: Int) {
        self.style = style
        self.total = total
    }

    mutating func update(_ event: RunEvent) {
        guard event.event == .node, let node = event.node, let state = event.health, seen.insert("\(event.cluster)/\(node)").inserted else { return }
        health[state, default: 0] += 1
        if style == .lines { print(Self.line(event)) }
        if style == .bar { draw() }
    }

    /// `cluster/node  health  CHECKS  error` for a node event, `run ID STATUS` for the end.
    static func line(_ event: RunEvent) -> String {
        switch event.event {
        case .finished: return "run \(event.run) \(event.cluster): \(event.status?.rawValue ?? "ended")"
        case .step:
            return "  \(event.node ?? "(cluster)")  \(event.repair ?? "?")/\(event.step ?? "?") on \(event.host ?? "?"): "
                + "\(event.outcome?.rawValue ?? "?") (\(RepairCommand.seconds(event.durationMs ?? 0)))"
        case .node: break
        }
        let checks = event.checks ?? []
        return "\(event.cluster)/\(event.node ?? "?")  \(event.health?.rawValue ?? "?")\(checks.isEmpty ? "" : "  " + checks.joined(separator: " "))"
            + (event.error.map { "  " + $0 } ?? "")
    }

    func finish() {
        if style == .bar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func draw() {
        let width = 30
        let done = seen.count
        let filled = total == 0 ? width : min(width, done * width / total)
        let counts = NodeHealth.allCases.compactMap { state in health[state].map { "\($0) \(state.rawValue)" } }.joined(separator: ", ")
        let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total) nodes  \(counts)\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
