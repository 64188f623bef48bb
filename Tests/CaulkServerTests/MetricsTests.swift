import CaulkAPI
import CaulkDomain
import CaulkTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CaulkServer

/// `GET /metrics`: a viewer's, in Prometheus' text format with help for every family, that
/// promtool takes; the fleet's gauges follow the inventory (a deleted cluster's are gone).
@Suite struct MetricsTests {
    @Test func aViewerScrapesTheFleetInPrometheusFormat() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.get, "/metrics", token: nil).status == 401)
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster).status == 201)
            let limited = try await client.call(.post, "/v1/tokens", token: h.admin, json: #"{"name": "t", "role": "viewer", "clusters": ["prod-a"]}"#)
            let reply = try await client.call(.get, "/metrics", token: try limited.decode(CreatedToken.self).secret)
            #expect(reply.status == 403 && reply.error?.message.contains("whole fleet") == true)

            func scrape() async throws -> String {
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(h.viewer)"]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                    return String(buffer: response.body)
                }
            }
            let text = try await scrape()
            for line in [
                #"caulk_cluster_state{cluster="prod-a",state="unknown"} 1"#, #"caulk_cluster_state{cluster="prod-a",state="healthy"} 0"#,
                #"caulk_clusters{state="unknown"} 1"#, #"caulk_cluster_audit_age_seconds{cluster="prod-a"} 2147483647"#,
                #"caulk_runs_running{cluster="prod-a"} 0"#,
            ] {
                #expect(text.split(separator: "\n").contains { $0 == line || $0 == line + ".0" }, "\(line) missing from:\n\(text)")
            }
            let families = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
            let helped = Set(text.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
            #expect(!families.isEmpty && families == helped, "families without help: \(families.subtracting(helped))")
            try Self.promtool(text)

            #expect(try await client.call(.delete, "/v1/clusters/prod-a", token: h.admin).status == 204)
            let after = try await scrape()
            #expect(!after.contains(#"cluster="prod-a""#), "a deleted cluster's series stay:\n\(after)")
            #expect(after.contains(#"caulk_clusters{state="unknown"} 0"#))
        }
    }

    /// The alert rules load in promtool, and the rules and the Grafana dashboard ask only for
    /// families caulk exports.
    @Test func contribAsksOnlyForWhatCaulkExports() throws {
        let root = OpenAPITests.packageRoot
        let rules = root.appending(path: "contrib/prometheus/caulk-alerts.yml").path
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "promtool is missing: `make test-deps` installs it")
        let check = try Command.run("/usr/bin/promtool", ["check", "rules", rules])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let dashboard = try Data(contentsOf: root.appending(path: "contrib/grafana/caulk-dashboard.json"))
        #expect(try JSONSerialization.jsonObject(with: dashboard) is [String: Any])
        let text = try String(contentsOfFile: rules, encoding: .utf8) + String(decoding: dashboard, as: UTF8.self)
        let asked = Set(text.matches(of: /caulk_[a-z_]+/).map { String($0.output).replacing(/_(bucket|sum|count)$/, with: "") })
        #expect(asked.subtracting(PrometheusExport.help.keys).sorted() == [], "families nothing exports")
        #expect(asked.count >= 10)
    }

    /// `promtool check metrics`: the text is well formed and follows Prometheus' naming rules.
    static func promtool(_ text: String) throws {
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool), "promtool is missing: `make test-deps` installs it (Debian package prometheus)")
        let result = try Command.run(promtool, ["check", "metrics"], input: Data(text.utf8))
        #expect(result.status == 0, "promtool check metrics: \(result.stdout)\(result.stderr)")
    }
}
