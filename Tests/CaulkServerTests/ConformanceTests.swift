import CaulkAPI
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// What Tests/proofs/schemathesis.sh found, kept fixed: the server answers as config/openapi.yaml says.
@Suite struct ConformanceTests {
    @Test func anUnservedMethodOnAServedPathIs405WithAllow() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            _ = try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster)
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.put, "/v1/clusters", "GET, POST"),
                (.post, "/v1/clusters/prod-a", "DELETE, GET, PATCH"),
                (.trace, "/healthz", "GET"),
                (.delete, "/v1/nodes/prod-a/cp1/boot", "POST"),
            ]
            for (method, path, allow) in cases {
                // No token: the method is wrong whoever asks.
                let (status, allowed, body) = try await client.execute(uri: path, method: method, headers: [:], body: nil) { response in
                    (response.status.code, response.headers[.allow], try JSONCoding.decoder().decode(APIErrorBody.self, from: Data(buffer: response.body)))
                }
                #expect(status == 405, "\(method) \(path)")
                #expect(allowed == allow, "\(method) \(path)")
                #expect(body.error.code == "method_not_allowed")
                #expect(body.error.message == "\(path) does not take \(method.rawValue); it takes \(allow)")
            }
            // A path that is not served at all stays a 404.
            let reply = try await client.call(.put, "/v1/clusters/prod-a/nothing", token: h.admin)
            #expect(reply.status == 404)
            #expect(reply.error?.code == "not_found")
        }
    }

    @Test func bodiesTakeOnlyWhatTheirSchemaNames() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            var reply = try await client.call(
                .post, "/v1/clusters", token: h.admin,
                json: #"{"name": "prod-a", "api_endpoint": "https://198.18.1.1:6443", "ssh": {"user": "ops", "become": "root"}}"#)
            #expect(reply.status == 201)
            #expect(try reply.decode(Cluster.self).ssh.become == "root")

            reply = try await client.call(.patch, "/v1/clusters/prod-a", token: h.admin, json: #"{"name": "prod-a"}"#)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "name")
            #expect(reply.error?.message.contains("cannot be renamed") == true)

            reply = try await client.call(.patch, "/v1/clusters/prod-a", token: h.admin, json: #"{"pod_cidr": null}"#)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "pod_cidr")

            reply = try await client.call(.patch, "/v1/clusters/prod-a", token: h.admin, json: #"{"ssh": {"become": null}}"#)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "ssh.become")

            _ = try await client.call(.post, "/v1/nodes", token: h.admin, json: #"{"cluster": "prod-a", "name": "cp1", "address": "198.18.1.1"}"#)
            reply = try await client.call(.patch, "/v1/nodes/prod-a/cp1", token: h.admin, json: #"{"cluster": "prod-b"}"#)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "cluster")
        }
    }

    @Test func queriesTakeOnlyWhatTheirSchemaNames() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            for name in ["a", "b"] {
                _ = try await client.call(.post, "/v1/clusters", token: h.admin, json: #"{"name": "\#(name)", "api_endpoint": "https://198.18.1.1:6443"}"#)
            }
            var reply = try await client.call(.get, "/v1/clusters?limit=1", token: h.viewer)
            let cursor = try #require(try reply.decode(Page<Cluster>.self).nextCursor)
            reply = try await client.call(.get, "/v1/clusters?limit=1&cursor=\(cursor)", token: h.viewer)
            #expect(try reply.decode(Page<Cluster>.self).items.map(\.name) == ["b"])

            // Decodes to the same id, but is not a cursor the server issues (stray low bits).
            reply = try await client.call(.get, "/v1/clusters?cursor=\(cursor.dropLast())R", token: h.viewer)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "cursor")

            reply = try await client.call(.get, "/v1/runs?kind=deploy", token: h.viewer)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "kind")
            reply = try await client.call(.get, "/v1/runs?cluster=Not_A_Name", token: h.viewer)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "cluster")
            reply = try await client.call(.get, "/v1/reboots?node=", token: h.viewer)
            #expect(reply.status == 400)
            #expect(reply.error?.field == "node")

            // A boolean is `true` or `false`, as the schema says; nothing else is read as either.
            for odd in ["", "1", "0", "yes", "TRUE"] {
                reply = try await client.call(.get, "/v1/tokens?include_revoked=\(odd)", token: h.admin)
                #expect(reply.status == 400, "include_revoked=\(odd)")
                #expect(reply.error?.field == "include_revoked")
            }
            reply = try await client.call(.get, "/v1/tokens?include_revoked=true", token: h.admin)
            #expect(reply.status == 200)
        }
    }

    /// Reports answer over the API as the OpenAPI document says: a known name, its group keys,
    /// times in the forms it names; anything else a 4xx naming the field.
    @Test func reportsAnswerWithTheirColumnsAndRefuseWhatTheyCannotGroupBy() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            _ = try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster)
            var reply = try await client.call(.get, "/v1/reports/reboots?since=8w&group_by=week&cluster=prod-a&cluster=prod-b", token: h.viewer)
            #expect(reply.status == 200)
            let report = try reply.decode(Report.self)
            #expect(report.columns == ["week", "reboots", "nodes", "clusters"] && report.clusters == ["prod-a", "prod-b"] && report.rows.isEmpty)
            reply = try await client.call(.get, "/v1/reports/findings", token: h.viewer)
            #expect(try reply.decode(Report.self).groupBy == .check)

            reply = try await client.call(.get, "/v1/reports/uptime", token: h.viewer)
            #expect(reply.status == 404 && reply.error?.code == "not_found")
            for name in ["mttr", "repairs", "risk"] {
                reply = try await client.call(.get, "/v1/reports/\(name)", token: h.viewer)
                #expect(reply.status == 200, "\(name)")
                #expect(try reply.decode(Report.self).report.rawValue == name)
            }
            reply = try await client.call(.get, "/v1/reports/repairs?group_by=kernel", token: h.viewer)
            #expect(reply.status == 400 && reply.error?.field == "group_by")
            for (query, field) in [("group_by=playbook", "group_by"), ("group_by=check", "group_by"), ("since=yesterday", "since"), ("until=2026-02-30", "until"),
                                   ("cluster=Not_A_Name", "cluster")] {
                reply = try await client.call(.get, "/v1/reports/reboots?\(query)", token: h.viewer)
                #expect(reply.status == 400 && reply.error?.field == field, "\(query)")
            }
            reply = try await client.call(.post, "/v1/reports/reboots", token: h.admin)
            #expect(reply.status == 405)
        }
    }

    /// The purge is an admin's: a dry run counts, changes nothing, and says what is kept how long.
    @Test func purgeIsForAdminsAndADryRunCountsOnly() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            var reply = try await client.call(.post, "/v1/admin/purge?dry_run=true", token: h.op)
            #expect(reply.status == 403)
            reply = try await client.call(.post, "/v1/admin/purge?dry_run=maybe", token: h.admin)
            #expect(reply.status == 400 && reply.error?.field == "dry_run")
            reply = try await client.call(.post, "/v1/admin/purge?dry_run=true", token: h.admin)
            #expect(reply.status == 200)
            let result = try reply.decode(PurgeResult.self)
            #expect(result.dryRun && result.classes.map(\.class) == RetentionClass.allCases)
            #expect(result.classes.map(\.keepDays) == [90, 730, 730, 730, 730, 730] && result.classes.allSatisfy { $0.rows == 0 })
        }
    }
}
