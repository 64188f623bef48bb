import CaulkAPI
import Foundation
import Testing

@testable import CaulkDomain

/// What caulk could not read is unknown, never healthy and never broken; and it finds each
/// node's Kubernetes identity however the names differ.
@Suite struct FailClosedTests {
    typealias Checks = AuditChecksTests

    @Test func aStepCutOffOrOverItsLimitLeavesItsChecksUnknownNotHealthy() {
        var steps = Checks.steps()
        steps["nftables"]?.truncated = true
        steps["nftables"]?.limit = 1 << 20
        steps["nftables"]?.size = 7 << 20
        var fired = Checks.run(steps: steps)
        #expect(fired["firewall-vxlan-port"]?.0 == .warning)
        #expect(fired["firewall-vxlan-port"]?.1 == "unknown: step nftables: its output (7.0 MiB) is over its 1.0 MiB limit (max_output) and was cut", "\(fired)")
        #expect(fired.count == 1, "the other checks still ran: \(fired)")

        // The node's batch ended after `routes`: every check reading a later step is unknown.
        steps = Checks.steps()
        for name in ["fdb", "neighbours", "firewalld", "nftables", "networkmanager", "nm-calico-conf", "rp-filter"] { steps[name] = nil }
        fired = Checks.run(steps: steps)
        #expect(Set(fired.keys) == ["vxlan-peers", "firewall-vxlan-port", "networkmanager-unmanaged", "rp-filter"], "\(fired)")
        #expect(fired.values.allSatisfy { $0.0 == .warning && $0.1.hasPrefix("unknown: step ") })

        steps = Checks.steps()
        steps["links"] = StepOutput(exitStatus: 0, stdout: "[{\"ifname\": \"eth0\"", timedOut: true)
        fired = Checks.run(steps: steps)
        #expect(fired["vxlan-device"]?.1.hasPrefix("unknown: step links: timed out") == true && fired["vxlan-mtu"] != nil, "\(fired)")
    }

    @Test func unreadableOutputIsUnknownButAnAnswerIsAnAnswer() {
        #expect(Checks.run(["nftables": "Error: syntax"])["firewall-vxlan-port"]?.1 == "unknown: the nftables ruleset could not be read")
        #expect(Checks.run(["firewalld": "\n"])["firewall-vxlan-port"]?.1 == "unknown: firewalld's state could not be read")
        #expect(Checks.run(["firewalld": "absent\n"])["firewall-vxlan-port"] == nil)
        #expect(Checks.run(["networkmanager": "Failed to connect to bus\n"])["networkmanager-unmanaged"]?.1.hasPrefix("unknown:") == true)
        #expect(Checks.run(["offload": "<missing>"])["checksum-offload"]?.1.hasPrefix("unknown:") == true)
        #expect(Checks.run(["offload": "tx-checksum-ip-generic: on\n", "nic-driver": "<missing>"])["checksum-offload"]?.1.hasPrefix("unknown:") == true)
        #expect(Checks.run(["rp-filter": "sysctl: permission denied\n"])["rp-filter"]?.1.hasPrefix("unknown:") == true)
        var noNodes = Checks.cluster
        noNodes.nodes = [:]
        #expect(Checks.run(cluster: noNodes)["vxlan-peers"]?.1.hasPrefix("unknown: no Kubernetes Nodes") == true)
    }

    @Test func evaluateFilesOneUnknownPerReasonWithNoRepair() throws {
        let playbook = try PlaybookLibrary().playbook("calico-vxlan", kind: .audit)
        var steps = Checks.steps()
        steps["links"] = nil
        let context = CalicoChecks.NodeContext(
            node: "n2", kubernetesName: "n2", nodeIP: "198.18.1.2", facts: NodeFacts.parse(steps, nodeIP: "198.18.1.2"), steps: steps, cluster: Checks.cluster)
        let findings = AuditRunner.evaluate(AuditRunner.nodeChecks(playbook), context)
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.check == "UNKNOWN" && findings.first?.repair == nil && findings.first?.severity == .warning)
        #expect(findings.first?.message == "could not check F1, F2, F3, F5: step links gave no output (the node's batch ended before it)")
        #expect(AuditRunner.health(findings) == .degraded)
    }

    @Test func aProbeWithNoTargetsOrACutOutputSaysSo() {
        #expect(AuditRunner.probeUnknown(nil, planned: false)?.contains("could not run from this node") == true)
        #expect(AuditRunner.probeUnknown(nil, planned: true)?.contains("gave no output") == true)
        #expect(AuditRunner.probeUnknown(StepOutput(exitStatus: nil, stdout: "n3 198.19.0.129 53 1 1 1\n"), planned: true)?.contains("did not finish") == true)
        #expect(AuditRunner.probeUnknown(StepOutput(exitStatus: 0, stdout: ""), planned: true) == nil)
    }

    /// kube-proxy's 20,000 rules are read without parsing them all; a drop of 4789 among them
    /// is still found, with its place, and a string holding braces does not confuse the split.
    @Test func aBigRulesetIsSearchedForDropsWithoutParsingEveryRule() {
        var entries = [#"{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}"#, #"{"table": {"family": "ip", "name": "kube-proxy", "handle": 1}}"#]
        for index in 0..<20_000 {
            entries.append(#"{"rule": {"family": "ip", "table": "kube-proxy", "chain": "services", "handle": \#(index + 2), "comment": "svc {\#(index)} "x"", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": \#(30000 + index % 2000)}}, {"accept": null}]}}"#)
        }
        entries.insert(#"{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 99999, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 4789}}, {"drop": null}]}}"#, at: 12_345)
        let text = #"{"nftables": ["# + entries.joined(separator: ", ") + "]}"
        #expect(text.utf8.count > 4 << 20)
        let rules = NftRuleset.dropOrRejectRules(text)
        #expect(rules?.count == 1 && (rules?.first?["rule"] as? [String: Any])?["handle"] as? Int == 99999)
        #expect(Checks.run(["nftables": text])["firewall-vxlan-port"]?.1 == "an nftables rule drops UDP 4789: VXLAN packets are dropped")
        #expect(NftRuleset.dropOrRejectRules(#"{"nftables": [{"rule": {"expr": [{"drop": null}]}}"#) == nil, "cut off: unbalanced")
        #expect(NftRuleset.dropOrRejectRules(#"{"nftables": []}"#)?.isEmpty == true)
    }

    // MARK: F3 without the MAC annotation

    static var withoutMACs: ClusterFacts {
        var facts = Checks.cluster
        for name in facts.nodes.keys { facts.nodes[name]?.vxlanMac = nil }
        return facts
    }

    @Test func peersAreCheckedFromTheVTEPWhenNodesCarryNoMAC() {
        #expect(Checks.run(cluster: Self.withoutMACs).isEmpty, "the neighbour's MAC and the FDB agree")
        let noFdbToN3 = #"[{"mac":"66:ca:1b:01:00:01","dst":"198.18.1.1","state":"permanent"}]"#
        #expect(Checks.run(["fdb": noFdbToN3], cluster: Self.withoutMACs)["vxlan-peers"]?.0 == .critical)
        let wrongDst = #"[{"mac":"66:ca:1b:01:00:01","dst":"198.18.1.1"},{"mac":"66:ca:1b:01:00:03","dst":"198.18.1.9"}]"#
        #expect(Checks.run(["fdb": wrongDst], cluster: Self.withoutMACs)["vxlan-peers"]?.1 == "VXLAN entries for 1 peer(s) are missing or wrong (0 missing, 1 wrong)")
        let noRoutes = #"[]"#
        #expect(Checks.run(["routes": noRoutes], cluster: Self.withoutMACs)["vxlan-peers"]?.1 == "VXLAN entries for 2 peer(s) are missing or wrong (2 missing, 0 wrong)")
    }

    @Test func aPeerWithoutAVTEPIsNamedAsNotChecked() {
        var facts = Checks.cluster
        facts.nodes["n3"]?.vtep = nil
        let fired = Checks.run(cluster: facts)
        #expect(fired["vxlan-peers"]?.0 == .info && fired["vxlan-peers"]?.1.contains("1 peer(s) could not be fully checked") == true, "\(fired)")
    }

    // MARK: Identity

    static func kubernetes(_ nodes: [(String, String?)]) -> [String: ClusterFacts.Node] {
        Dictionary(uniqueKeysWithValues: nodes.map { ($0.0, ClusterFacts.Node(internalIp: $0.1, vtep: nil, vxlanMac: nil, kernel: nil, bootId: nil)) })
    }

    @Test func nodesMatchByAddressThenByNameOrShortName() {
        let identity = NodeIdentity.match(
            [("cp1", "198.18.1.1"), ("w1", "10.0.0.1"), ("w2", "10.0.0.2"), ("w3", "198.18.1.3")],
            kubernetes: Self.kubernetes([
                ("cp1.dc.example", "198.18.1.1"), ("W1.dc.example", "198.18.9.9"), ("w2", "198.18.9.8"),
                ("other.dc.example", "198.18.1.3"), ("w3.dc.example", "198.18.7.7"), ("stray", "198.18.1.99"),
            ]))
        #expect(identity.names == ["cp1": "cp1.dc.example", "w1": "W1.dc.example", "w2": "w2", "w3": "other.dc.example"], "the address wins over the name")
        #expect(identity.problems.isEmpty)
        #expect(identity.unclaimed == ["stray", "w3.dc.example"])
    }

    @Test func noCandidateOrTwoAreProblemsNotGuesses() {
        let identity = NodeIdentity.match(
            [("a", "198.18.1.1"), ("b", "198.18.1.2"), ("c", "198.18.1.3"), ("d", "198.18.1.4"), ("e", "198.18.1.4")],
            kubernetes: Self.kubernetes([("x1", "198.18.1.1"), ("x2", "198.18.1.1"), ("b.one.example", nil), ("b.two.example", nil), ("d", "198.18.1.4")]))
        #expect(identity.names.isEmpty, "\(identity.names)")
        #expect(identity.problems["a"] == "2 Kubernetes Nodes match by InternalIP 198.18.1.1: x1, x2")
        #expect(identity.problems["b"] == "2 Kubernetes Nodes match by short name b: b.one.example, b.two.example")
        #expect(identity.problems["c"]?.hasPrefix("no Kubernetes Node has InternalIP 198.18.1.3") == true)
        #expect(identity.problems["d"] == "Kubernetes Node d matches 2 inventory nodes: d, e")
    }
}

/// One step printing megabytes is cut on its own and named; the steps after it arrive whole.
@Suite struct StepLimitTests {
    @Test func aStepOverItsLimitIsCutAloneAndSaysHowBigItWas() throws {
        let batch = StepBatch([
            .init(name: "big", command: "head -c 300000 /dev/zero | tr '\\0' x", timeout: 5, maxOutput: 100_000),
            .init(name: "after", command: "echo still here", timeout: 5),
        ])
        #expect(batch.outputCap > 100_000 + Playbook.Step.defaultMaxOutput)
        let (stdout, stderr) = try StepBatchTests.run(batch)
        let steps = batch.split(stdout: stdout, stderr: stderr, timedOut: false, truncated: false)
        let big = try #require(steps["big"])
        #expect(big.truncated && !big.complete && big.exitStatus == 0 && big.size == 300_000 && big.stdout.utf8.count == 100_000)
        #expect(big.problem == "its output (292 KiB) is over its 97 KiB limit (max_output) and was cut")
        #expect(steps["after"] == StepOutput(exitStatus: 0, stdout: "still here\n", limit: Playbook.Step.defaultMaxOutput).with(size: 11))
    }

    /// The sizes come last; a batch cut before them still knows which step was cut.
    @Test func aCutStepIsKnownWithoutTheSizes() throws {
        let batch = StepBatch([.init(name: "big", command: "head -c 5000 /dev/zero | tr '\\0' x", timeout: 5, maxOutput: 1000)])
        let (stdout, stderr) = try StepBatchTests.run(batch)
        let cut = String(stdout[..<stdout.range(of: "\n\(batch.marker) \(StepBatch.sizesSection)")!.lowerBound])
        let big = try #require(batch.split(stdout: cut, stderr: stderr, timedOut: false, truncated: false)["big"])
        #expect(big.truncated && big.size == nil && big.stdout.utf8.count == 1000 && big.exitStatus == 0)
        let small = try #require(batch.split(stdout: stdout, stderr: stderr, timedOut: false, truncated: false)["big"])
        #expect(small.size == 5000)
    }

    @Test func markersAreFoundWhereverTheyAre() {
        let find = { (needle: String, hay: String) in StepBatch.occurrences(of: Array(needle.utf8), in: Array(hay.utf8)[...]).map(\.lowerBound) }
        #expect(find("ab", "xabyabab") == [1, 4, 6])
        #expect(find("aab", "aaab") == [1], "a first byte that does not start a match")
        #expect(find("aa", "aaaa") == [0, 2], "no overlaps")
        #expect(find("abc", "ab").isEmpty && find("a", "").isEmpty && find("", "abc").isEmpty)
        let hay = Array("--x--x".utf8)
        #expect(StepBatch.occurrences(of: Array("x".utf8), in: hay[3...]).map(\.lowerBound) == [5], "positions are the slice's own")
    }

    @Test func maxOutputIsReadFromThePlaybook() throws {
        let playbook = try PlaybookLibrary().playbook("calico-vxlan", kind: .audit)
        #expect(playbook.steps.first { $0.name == "nftables" }?.maxOutput == 16 << 20)
        #expect(PlaybookLoader.byteCount("16M") == 16 << 20 && PlaybookLoader.byteCount("512K") == 512 << 10 && PlaybookLoader.byteCount("2048") == 2048)
        #expect(PlaybookLoader.byteCount("M") == nil && PlaybookLoader.byteCount("1G") == nil)
    }
}

extension StepOutput {
    func with(size: Int) -> StepOutput {
        var copy = self
        copy.size = size
        return copy
    }
}
