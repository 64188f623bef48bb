import CaulkAPI
import CaulkStore
import Foundation
import HummingbirdTesting
import Testing

/// `GET /v1/runs/{id}/events`: each audit node once, as it lands, then the run's end; resumable.
@Suite struct RunEventsTests {
    @Test func eachNodeOnceAsItLandsThenTheEndResumableAfterAnyEvent() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster).status == 201)
            for node in ["n1", "n2", "n3"] {
                #expect(try await client.call(.post, "/v1/nodes", token: h.admin, json: #"{"cluster": "prod-a", "name": "\#(node)", "address": "198.18.1.1"}"#).status == 201)
            }
            let store = h.services.store
            let cluster = try #require(try await store.cluster(named: "prod-a"))
            let run = try await store.insert(
                RunRecord(
                    kind: .audit, clusterId: cluster.cluster.id, clusterName: "prod-a", trigger: .cli, requester: "test", command: nil, parameters: [:],
                    hostCount: 3, startedAt: Date(), playbook: "calico-vxlan"))
            let id = try #require(run.id)
            func record(_ node: String, _ health: NodeHealth, _ checks: [String]) async throws {
                try await store.recordAuditNode(
                    AuditNodeRecord(
                        runId: id, nodeId: nil, nodeName: node, health: health, bootId: nil, bootedAt: nil, kernel: nil, nicDriver: nil,
                        facts: "{}", error: health == .unreachable ? "connection refused" : nil, finishedAt: Date()),
                    findings: checks.map {
                        FindingRecord(runId: id, clusterName: "prod-a", nodeName: node, checkId: $0, severity: .critical, message: "m", evidence: "", repair: nil, createdAt: Date())
                    } + [FindingRecord(runId: id, clusterName: "prod-a", nodeName: node, checkId: "INFO", severity: .info, message: "m", evidence: "", repair: nil, createdAt: Date())],
                    seenAt: nil)
            }
            try await record("n1", .broken, ["F4", "F2"])

            // Followed while the run is running: n1 at once, the others as they land, then the end.
            async let followed = client.call(.get, "/v1/runs/\(id)/events", token: h.viewer)
            try await Task.sleep(for: .milliseconds(600))
            try await record("n2", .healthy, [])
            try await record("n3", .unreachable, [])
            try await store.finishRun(id: id, status: .succeeded, at: Date())
            let reply = try await followed
            #expect(reply.status == 200)
            let events = try Self.events(reply.body)
            #expect(events.map(\.event) == [.node, .node, .node, .finished])
            #expect(events.map(\.node) == ["n1", "n2", "n3", nil])
            #expect(events[0].health == .broken && events[0].checks == ["F2", "F4"], "warning and critical checks, sorted; info left out")
            #expect(events[2].health == .unreachable && events[2].error == "connection refused")
            #expect(events[3].status == .succeeded && events.allSatisfy { $0.run == id && $0.cluster == "prod-a" })
            let seqs = events.compactMap(\.seq)
            #expect(seqs.count == 3 && seqs == seqs.sorted())

            // Resumed after the first node: the rest, nothing twice.
            let resumed = try Self.events(try await client.call(.get, "/v1/runs/\(id)/events?after=\(seqs[0])", token: h.viewer).body)
            #expect(resumed.map(\.node) == ["n2", "n3", nil])

            // No such run, a cursor that is not a number or below 0, no token: refused before any line.
            #expect(try await client.call(.get, "/v1/runs/999/events", token: h.viewer).status == 404)
            for bad in ["x", "-1", "99999999999999999999"] {
                let refused = try await client.call(.get, "/v1/runs/\(id)/events?after=\(bad)", token: h.viewer)
                #expect(refused.status == 400 && refused.error?.field == "after", "after=\(bad)")
            }
            #expect(try await client.call(.get, "/v1/runs/\(id)/events", token: nil).status == 401)
        }
    }

    static func events(_ body: Data) throws -> [RunEvent] {
        try body.split(separator: 0x0A).map { try JSONCoding.decoder().decode(RunEvent.self, from: Data($0)) }
    }
}
