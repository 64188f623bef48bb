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

    /// A repair's steps, each once as it finishes, without their output; then the end.
    @Test func aRepairsStepsAsTheyFinish() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster).status == 201)
            let store = h.services.store
            let cluster = try #require(try await store.cluster(named: "prod-a"))
            let id = try await Self.run(.repair, in: cluster.cluster, store: store)
            func step(_ node: String?, _ repair: String, _ name: String, _ outcome: RepairStepOutcome) async throws {
                try await store.recordRepairStep(RepairStepRecord(
                    runId: id, nodeName: node, host: node ?? "n1", repair: repair, step: name, command: "secret-ish command", outcome: outcome,
                    exitStatus: outcome == .ok ? 0 : 1, stdout: "lots of output", stderr: "", startedAt: Date(), durationMs: 1500))
            }
            try await step(nil, "offload-off", "felix-override", .ok)
            async let followed = client.call(.get, "/v1/runs/\(id)/events", token: h.viewer)
            try await Task.sleep(for: .milliseconds(600))
            try await step("n2", "firewall-open", "open", .ok)
            try await step("n2", "verify", "tcp-probe", .failed)
            try await store.finishRun(id: id, status: .failed, at: Date())
            let events = try Self.events(try await followed.body)
            #expect(events.map(\.event) == [.step, .step, .step, .finished])
            #expect(events.map(\.node) == [nil, "n2", "n2", nil])
            #expect(events[0].repair == "offload-off" && events[0].step == "felix-override" && events[0].host == "n1" && events[0].outcome == .ok)
            #expect(events[2].outcome == .failed && events[2].durationMs == 1500 && events[3].status == .failed)
            let body = String(decoding: try await client.call(.get, "/v1/runs/\(id)/events", token: h.viewer).body, as: UTF8.self)
            #expect(!body.contains("lots of output") && !body.contains("secret-ish"), "steps without commands or output: \(body)")
            let seqs = events.compactMap(\.seq)
            let resumed = try Self.events(try await client.call(.get, "/v1/runs/\(id)/events?after=\(seqs[1])", token: h.viewer).body)
            #expect(resumed.map(\.step) == ["tcp-probe", nil])
        }
    }

    /// `POST /v1/runs/{id}/cancel`: operator and up; records who asked once; refuses what has
    /// ended and what cannot stop.
    @Test func cancelRecordsWhoAskedAndRefusesWhatCannotStop() async throws {
        let h = try await Harness()
        try await h.application().test(.router) { client in
            #expect(try await client.call(.post, "/v1/clusters", token: h.admin, json: APITests.cluster).status == 201)
            let store = h.services.store
            let cluster = try #require(try await store.cluster(named: "prod-a"))
            func run(_ kind: RunKind) async throws -> Int64 { try await Self.run(kind, in: cluster.cluster, store: store) }
            let repair = try await run(.repair)
            #expect(try await client.call(.post, "/v1/runs/\(repair)/cancel", token: h.viewer).status == 403)
            #expect(try await client.call(.post, "/v1/runs/\(repair)/cancel", token: nil).status == 401)
            #expect(try await store.cancelRequester(runId: repair) == nil, "refused requests record nothing")
            let asked = try await client.call(.post, "/v1/runs/\(repair)/cancel", token: h.op)
            #expect(asked.status == 202)
            let answer = try JSONCoding.decoder().decode(Run.self, from: asked.body)
            #expect(answer.status == .running && answer.cancelledBy == "ops")
            // Asked again, by someone else: the same answer; the first asker stays on record.
            let again = try JSONCoding.decoder().decode(Run.self, from: try await client.call(.post, "/v1/runs/\(repair)/cancel", token: h.admin).body)
            #expect(again.cancelledBy == "ops")
            let shown = try JSONCoding.decoder().decode(RunDetail.self, from: try await client.call(.get, "/v1/runs/\(repair)", token: h.viewer).body)
            #expect(shown.run.cancelledBy == "ops")

            try await store.finishRun(id: repair, status: .cancelled, at: Date())
            let ended = try await client.call(.post, "/v1/runs/\(repair)/cancel", token: h.op)
            #expect(ended.status == 409 && ended.error?.message.contains("already ended (cancelled)") == true)
            let exec = try await run(.exec)
            let refused = try await client.call(.post, "/v1/runs/\(exec)/cancel", token: h.op)
            #expect(refused.status == 409 && refused.error?.message.contains("only audits and repairs") == true)
            #expect(try await store.cancelRequester(runId: exec) == nil)
            #expect(try await client.call(.post, "/v1/runs/999/cancel", token: h.op).status == 404)
            #expect(try await client.call(.post, "/v1/runs/x/cancel", token: h.op).status == 400)
        }
    }

    /// A run recorded as running on `cluster`, as a service starts one.
    static func run(_ kind: RunKind, in cluster: ClusterRecord, store: Store) async throws -> Int64 {
        try #require(try await store.insert(RunRecord(
            kind: kind, clusterId: cluster.id, clusterName: cluster.name, trigger: .cli, requester: "test", command: nil, parameters: [:],
            hostCount: 1, startedAt: Date(), playbook: nil)).id)
    }

    static func events(_ body: Data) throws -> [RunEvent] {
        try body.split(separator: 0x0A).map { try JSONCoding.decoder().decode(RunEvent.self, from: Data($0)) }
    }
}
