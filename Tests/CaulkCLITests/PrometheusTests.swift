import CaulkAPI
import CaulkTestSupport
import Foundation
import Testing

/// A real Prometheus (Debian's) scraping a live `caulk serve` with a viewer token, and loading
/// contrib/'s alert rules: the target is up, caulk's series are stored, every rule evaluates.
@Suite struct PrometheusTests {
    @Test func prometheusScrapesCaulkAndEvaluatesItsRules() async throws {
        let binary = "/usr/bin/prometheus"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "prometheus is missing: `make test-deps` installs it")
        let server = try LiveServer()
        try server.start()
        #expect(try server.caulk(["clusters", "add", "prod-a", "--api-endpoint", "https://198.18.1.1:6443"], token: server.adminToken).status == 0)
        let result = try server.caulk(["tokens", "create", "prometheus", "--role", "viewer", "-o", "json"], token: server.adminToken)
        let token = server.directory.appending(path: "prometheus.token")
        try JSONCoding.decoder().decode(CreatedToken.self, from: Data(result.stdout.utf8)).secret.write(to: token, atomically: true, encoding: .utf8)

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = server.directory.appending(path: "prometheus.yml")
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: ["\(root.appending(path: "contrib/prometheus/caulk-alerts.yml").path)"]
            scrape_configs:
              - job_name: caulk
                authorization: {credentials_file: "\(token.path)"}
                static_configs: [{targets: ["\(server.url.replacingOccurrences(of: "http://", with: ""))"]}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let port = Int.random(in: 20_000...40_000)
        let api = "http://127.0.0.1:\(port)/api/v1"
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: binary)
        prometheus.arguments = [
            "--config.file=\(config.path)", "--storage.tsdb.path=\(server.directory.appending(path: "tsdb").path)",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        let log = server.directory.appending(path: "prometheus.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = try FileHandle(forWritingTo: log)
        try prometheus.run()
        defer { Command.stop(prometheus) }

        /// The `data` of a Prometheus API answer, once `ready` says it is what is waited for.
        func poll(_ path: String, until ready: ([String: Any]) -> Bool) async throws -> [String: Any]? {
            for _ in 0..<150 {
                let answer = try Command.run("/usr/bin/curl", ["-sf", api + path])
                if let body = try? JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any],
                    let data = body["data"] as? [String: Any], ready(data)
                {
                    return data
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }
        func values(_ data: [String: Any]) -> [String] {
            (data["result"] as? [[String: Any]] ?? []).compactMap { ($0["value"] as? [Any])?.last as? String }
        }
        let up = try await poll("/query?query=up%7Bjob%3D%22caulk%22%7D") { values($0) == ["1"] }
        #expect(up != nil, "the caulk target never came up:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let clusters = try await poll("/query?query=sum(caulk_clusters)") { values($0) == ["1"] }
        #expect(clusters != nil, "caulk_clusters was not stored")
        let rules = try await poll("/rules") { data in
            let rules = (data["groups"] as? [[String: Any]])?.flatMap { $0["rules"] as? [[String: Any]] ?? [] } ?? []
            return !rules.isEmpty && rules.allSatisfy { $0["health"] as? String == "ok" }
        }
        let loaded = (rules?["groups"] as? [[String: Any]])?.flatMap { $0["rules"] as? [[String: Any]] ?? [] } ?? []
        #expect(loaded.count == 10, "\(loaded.map { $0["name"] ?? "?" })")
        // Never audited: the stale-audit alert is pending or firing for prod-a.
        let alerts = try await poll("/alerts") { (($0["alerts"] as? [[String: Any]]) ?? []).contains { ($0["labels"] as? [String: String])?["cluster"] == "prod-a" } }
        #expect(alerts != nil, "no alert for a cluster never audited")
    }
}
