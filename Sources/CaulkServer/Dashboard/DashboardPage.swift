import CaulkAPI
import CaulkDomain
import CaulkStore
import Foundation

/// The dashboard and sign-in pages: plain HTML and inline SVG, no script, nothing fetched.
enum DashboardPage {
    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
        header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:16px}
        header h1{font-size:18px;margin:0;flex:1}header form{margin:0}
        main{padding:16px 24px;max-width:1240px}
        section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
        h2{font-size:15px;margin:0 0 8px}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;white-space:nowrap}
        th{font-weight:600;color:#4a5263}td.n{text-align:right}
        .tiles{display:flex;gap:12px;flex-wrap:wrap}.tile{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 16px;min-width:110px}
        .tile b{display:block;font-size:22px}
        .state{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
        .healthy{background:#d8f3e1;color:#17603a}.degraded{background:#fff0c2;color:#7a5600}.broken{background:#fbd5d5;color:#8f1d1d}
        .unreachable,.unknown{background:#e4e7ec;color:#434a57}.running{background:#dbe8fd;color:#1f4c9b}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
        .chart{width:100%;height:auto}.chart .grid{stroke:#e3e6eb}.chart .axis{font-size:10px;fill:#6b7385}
        .legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
        .note{color:#7a5600}.muted{color:#6b7385}
        button{font:inherit;padding:4px 12px;border-radius:4px;border:1px solid #8a93a6;background:#fff;cursor:pointer}
        input{font:inherit;padding:6px;width:100%;box-sizing:border-box;margin:8px 0}
        .login{max-width:420px;margin:80px auto}.error{color:#8f1d1d}
        """

    static func page(title: String, header: String = "", body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title))</title><link rel="icon" href="data:,"><style>\(style)</style></head>
        <body>\(header)<main>\(body)</main></body></html>
        """
    }

    static func login(error: String? = nil) -> String {
        page(
            title: "caulk — sign in",
            body: """
                <section class="login"><h2>caulk — sign in</h2>
                <p class="muted">Paste an API token (viewer or above); <code>caulk tokens create NAME --role viewer</code> makes one.
                It is kept in an HttpOnly cookie for this site until you sign out or 12 hours pass.</p>
                \(error.map { "<p class=\"error\">\(HTML.escape($0))</p>" } ?? "")
                <form method="post" action="/ui/login"><label for="token">Token</label>
                <input id="token" name="token" type="password" autocomplete="off" required autofocus>
                <button type="submit">Sign in</button></form></section>
                """)
    }

    static func dashboard(_ board: Dashboard, identity: Identity) -> String {
        let header = """
            <header><h1>caulk — fleet</h1><span>\(HTML.escape(identity.name)) (\(identity.role.rawValue))</span>
            <form method="post" action="/ui/logout"><button type="submit">Sign out</button></form></header>
            """
        var body = ["<p class=\"muted\">As of \(date(board.generatedAt)). Cluster states are those of each cluster's latest finished audit.</p>"]
        if let purged = board.purgedBefore {
            body.append("<p class=\"note\">Data before \(date(purged)) was purged by retention: the charts' earlier weeks are incomplete.</p>")
        }
        body.append(tiles(board))
        body.append(clusters(board.clusters))
        body.append(charts(board.weeks))
        body.append(running(board.running))
        body.append(reboots(board.recentReboots))
        body.append(repairs(board.recentRepairs))
        return page(title: "caulk — fleet", header: header, body: body.joined(separator: "\n"))
    }

    static func tiles(_ board: Dashboard) -> String {
        var counts: [String: Int] = [:]
        for cluster in board.clusters { counts[(cluster.state ?? .unknown).rawValue, default: 0] += 1 }
        let open = board.clusters.reduce(0) { $0 + $1.critical + $1.warnings }
        var tiles = [("clusters", board.clusters.count), ("nodes", board.clusters.reduce(0) { $0 + $1.nodes })]
        tiles += ClusterState.allCases.map { ($0.rawValue, counts[$0.rawValue] ?? 0) }
        tiles += [("open findings", open), ("running", board.running.count)]
        return "<div class=\"tiles\">" + tiles.map { "<div class=\"tile\"><b>\($0.1)</b>\(HTML.escape($0.0))</div>" }.joined() + "</div><br>"
    }

    static func clusters(_ clusters: [ClusterOverview]) -> String {
        let head = "<tr><th>Cluster</th><th>State</th><th>Nodes</th><th>Healthy</th><th>Degraded</th><th>Broken</th><th>Unreachable</th><th>Critical</th><th>Warnings</th><th>Audited</th><th>Running</th></tr>"
        let rows = clusters.map { cluster in
            let state = (cluster.state ?? .unknown).rawValue
            let cells = [cluster.nodes, cluster.healthy, cluster.degraded, cluster.broken, cluster.unreachable, cluster.critical, cluster.warnings]
                .map { "<td class=\"n\">\($0)</td>" }.joined()
            return "<tr><td>\(HTML.escape(cluster.cluster))</td><td><span class=\"state \(state)\">\(state)</span></td>\(cells)"
                + "<td>\(cluster.auditedAt.map(date) ?? "never")</td><td class=\"n\">\(cluster.running)</td></tr>"
        }
        return section("Clusters (\(clusters.count))", clusters.isEmpty ? "<p class=\"muted\">No clusters yet: <code>caulk inventory import FILE</code>.</p>" : "<table>\(head)\(rows.joined())</table>")
    }

    static func charts(_ weeks: [Dashboard.Week]) -> String {
        let labels = weeks.map(\.monday)
        // Hours on the axis, so that its round numbers are round in hours.
        func hours(_ value: Double) -> String { value < 1 && value > 0 ? "\(Int((value * 60).rounded()))m" : String(format: "%gh", value) }
        let charts = [
            HTML.BarChart(title: "Reboots per week", labels: labels, series: [.init(name: "reboots", color: "#4b7bd8", values: weeks.map { Double($0.reboots) })]),
            HTML.BarChart(
                title: "Reboots found faulty afterwards (%)", labels: labels,
                series: [.init(name: "% faulty", color: "#d8674b", values: weeks.map { $0.faultyPercent.map(Double.init) })]),
            HTML.BarChart(
                title: "Median time to recover", labels: labels,
                series: [.init(name: "median", color: "#8a5bd6", values: weeks.map { $0.mttrMedianSeconds.map { Double($0) / 3600 } })], format: hours,
                minimumTop: 0),
            HTML.BarChart(
                title: "Repairs by outcome", labels: labels,
                series: [
                    .init(name: "succeeded", color: "#3a9d62", values: weeks.map { Double($0.repairsSucceeded) }),
                    .init(name: "failed", color: "#d24b4b", values: weeks.map { Double($0.repairsFailed) }),
                    .init(name: "stopped", color: "#9aa1ae", values: weeks.map { Double($0.repairsStopped) }),
                ]),
        ]
        return "<div class=\"charts\">" + charts.map { section($0.title + ", last \(weeks.count) weeks", $0.svg) }.joined() + "</div>"
    }

    static func running(_ runs: [Run]) -> String {
        guard !runs.isEmpty else { return section("Running now", "<p class=\"muted\">Nothing is running.</p>") }
        return section("Running now", table(["Run", "Kind", "Cluster", "Started", "By"], runs.map { run in
            ["#\(run.id)", run.kind.rawValue, run.cluster, date(run.startedAt), run.requester]
        }))
    }

    static func reboots(_ events: [RebootEvent]) -> String {
        section("Recent reboots", events.isEmpty ? "<p class=\"muted\">No reboot recorded.</p>" : table(["Cluster", "Node", "Booted", "Seen", "Seen by"], events.map { event in
            [event.cluster, event.node, event.bootedAt.map(date) ?? "-", date(event.seenAt), event.source]
        }))
    }

    static func repairs(_ runs: [Run]) -> String {
        section("Recent repairs", runs.isEmpty ? "<p class=\"muted\">No repair yet.</p>" : table(["Run", "Cluster", "Playbook", "Status", "Trigger", "Started"], runs.map { run in
            ["#\(run.id)", run.cluster, run.playbook ?? "-", run.status.rawValue + (run.dryRun == true ? " (dry run)" : ""), run.trigger.rawValue, date(run.startedAt)]
        }))
    }

    static func table(_ head: [String], _ rows: [[String]]) -> String {
        "<table><tr>" + head.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>"
            + rows.map { "<tr>" + $0.map { "<td>\(HTML.escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }

    static func section(_ title: String, _ content: String) -> String {
        "<section><h2>\(HTML.escape(title))</h2>\(content)</section>"
    }

    static func date(_ date: Date) -> String {
        let text = JSONCoding.formatDate(date)
        return String(text.prefix(16)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }
}
