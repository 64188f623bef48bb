import CaulkAPI
import CaulkSSH
import Foundation
import Testing

@testable import CaulkDomain

/// The built-in checks on output captured from lab nodes (`ip -j`, `bridge -j`, `nft -j`, …).
@Suite struct AuditChecksTests {
    static let links = #"""
        [{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","UP"],"mtu":1500,"address":"02:00:00:01:00:02","addr_info":[{"family":"inet","local":"198.18.1.2","prefixlen":16}]},
         {"ifindex":3,"ifname":"vxlan.calico","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"address":"66:ca:1b:01:00:02",
          "linkinfo":{"info_kind":"vxlan","info_data":{"id":4096,"local":"198.18.1.2","port":4789}},"addr_info":[{"family":"inet","local":"198.19.0.64","prefixlen":32}]}]
        """#

    static let cluster: ClusterFacts = {
        var facts = ClusterFacts()
        facts.controlPlane = "n1"
        facts.vxlanMode = "Always"
        facts.calicoVersion = "3.28.2"
        facts.nodes = [
            "n1": .init(internalIp: "198.18.1.1", vtep: "198.19.0.0", vxlanMac: "66:ca:1b:01:00:01", kernel: nil, bootId: nil),
            "n2": .init(internalIp: "198.18.1.2", vtep: "198.19.0.64", vxlanMac: "66:ca:1b:01:00:02", kernel: nil, bootId: nil),
            "n3": .init(internalIp: "198.18.1.3", vtep: "198.19.0.128", vxlanMac: "66:ca:1b:01:00:03", kernel: nil, bootId: nil),
        ]
        facts.kubernetesNames = ["n1": "n1", "n2": "n2", "n3": "n3"]
        return facts
    }()

    static let routes = #"[{"dst":"198.19.0.0/26","gateway":"198.19.0.0","flags":["onlink"]},{"dst":"198.19.0.128/26","gateway":"198.19.0.128","flags":["onlink"]}]"#
    static let fdb = #"[{"mac":"66:ca:1b:01:00:01","dst":"198.18.1.1","state":"permanent"},{"mac":"66:ca:1b:01:00:03","dst":"198.18.1.3","state":"permanent"}]"#
    static let neighbours = #"[{"dst":"198.19.0.0","lladdr":"66:ca:1b:01:00:01"},{"dst":"198.19.0.128","lladdr":"66:ca:1b:01:00:03"}]"#

    static func steps(_ changes: [String: String] = [:]) -> [String: StepOutput] {
        var outputs = [
            "links": links, "routes": routes, "fdb": fdb, "neighbours": neighbours, "offload": "tx-checksum-ip-generic: off\n",
            "nic-driver": "driver: vmxnet3\nversion: 1.7\n", "kernel": "5.14.0-427.13.1.el9_4.x86_64\n", "firewalld": "not running\nno\n",
            "nftables": #"{"nftables": [{"metainfo": {"version": "1.0.6"}}]}"#, "networkmanager": "active\n",
            "nm-calico-conf": "[keyfile]\nunmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico\n",
            "rp-filter": "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.default.rp_filter = 0\nnet.ipv4.conf.eth0.rp_filter = 0\n",
        ]
        outputs.merge(changes) { $1 }
        return outputs.mapValues { StepOutput(exitStatus: $0 == "<missing>" ? 1 : 0, stdout: $0 == "<missing>" ? "" : $0) }
    }

    /// Severity and message of each built-in node check that fires; a check that could not
    /// tell is a warning whose message starts with "unknown: ".
    static func run(_ changes: [String: String] = [:], cluster: ClusterFacts = cluster, steps: [String: StepOutput]? = nil) -> [String: (Severity, String)] {
        let steps = steps ?? self.steps(changes)
        let context = CalicoChecks.NodeContext(
            node: "n2", kubernetesName: "n2", nodeIP: "198.18.1.2", facts: NodeFacts.parse(steps, nodeIP: "198.18.1.2"), steps: steps, cluster: cluster)
        var fired: [String: (Severity, String)] = [:]
        for builtin in BuiltinCheck.allCases where !builtin.isClusterWide {
            let name = builtin.rawValue
            for outcome in CalicoChecks.node(builtin, context) {
                switch outcome {
                case .finding(let severity, let message, _) where fired[name]?.0 ?? .info <= severity: fired[name] = (severity, message)
                case .finding: continue
                case .unknown(let why, _): fired[name] = (.warning, "unknown: " + why)
                }
            }
        }
        return fired
    }

    @Test func aHealthyNodeHasNoFindings() {
        #expect(Self.run().isEmpty, "\(Self.run())")
    }

    @Test func aStaleOrMissingDeviceIsF1() {
        let stale = Self.links.replacingOccurrences(of: "\"UP\",\"LOWER_UP\"", with: "\"NOARP\"").replacingOccurrences(of: "\"local\":\"198.18.1.2\",\"port\"", with: "\"local\":\"198.18.255.2\",\"port\"")
        let found = Self.run(["links": stale])["vxlan-device"]
        #expect(found?.0 == .critical)
        #expect(found?.1.contains("DOWN") == true && found?.1.contains("198.18.255.2 is not the node's 198.18.1.2") == true)
        let missing = Self.links.replacingOccurrences(of: "vxlan.calico", with: "vxlan.other")
        #expect(Self.run(["links": missing])["vxlan-device"]?.1.contains("does not exist") == true)
        #expect(Self.run(["links": missing])["vxlan-peers"] == nil, "F3 stays quiet when F1 says the device is gone")
    }

    @Test func offloadOnIsCriticalOnlyOverVmxnet3() {
        #expect(Self.run(["offload": "tx-checksum-ip-generic: on\n"])["checksum-offload"]?.0 == .critical)
        #expect(Self.run(["offload": "tx-checksum-ip-generic: on\n", "nic-driver": "driver: veth\n"])["checksum-offload"]?.0 == .info)
    }

    @Test func missingOrWrongPeerEntriesAreF3() {
        let found = Self.run(["routes": #"[{"dst":"198.19.0.0/26","gateway":"198.19.0.0","flags":["onlink"]}]"#,
                              "neighbours": #"[{"dst":"198.19.0.0","lladdr":"66:ca:1b:01:00:09"},{"dst":"198.19.0.128","lladdr":"66:ca:1b:01:00:03"}]"#])["vxlan-peers"]
        #expect(found?.0 == .critical)
        #expect(found?.1 == "VXLAN entries for 2 peer(s) are missing or wrong (1 missing, 1 wrong)")
        // Two routes to one peer are wrong; MACs compare whatever their case.
        let twice = Self.routes.replacingOccurrences(of: "]", with: #",{"dst":"198.19.0.0/27","gateway":"198.19.0.0"}]"#)
        #expect(Self.run(["routes": twice])["vxlan-peers"]?.1 == "VXLAN entries for 1 peer(s) are missing or wrong (0 missing, 1 wrong)")
        #expect(Self.run(["neighbours": Self.neighbours.replacingOccurrences(of: "66:ca", with: "66:CA"), "fdb": Self.fdb.replacingOccurrences(of: "66:ca", with: "66:CA")])["vxlan-peers"] == nil)
    }

    @Test func firewalldOrAnNftablesDropOf4789IsF4() {
        #expect(Self.run(["firewalld": "running\nno\n"])["firewall-vxlan-port"]?.0 == .critical)
        #expect(Self.run(["firewalld": "running\nyes\n"])["firewall-vxlan-port"] == nil)
        let drop = #"{"nftables": [{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [53, {"range": [4000, 5000]}]}}}, {"drop": null}]}}]}"#
        #expect(Self.run(["nftables": drop])["firewall-vxlan-port"]?.1.contains("nftables rule drops UDP 4789") == true)
        let accept = drop.replacingOccurrences(of: "{\"drop\": null}", with: "{\"accept\": null}")
        #expect(Self.run(["nftables": accept])["firewall-vxlan-port"] == nil)
    }

    @Test func mtuNetworkManagerAndRpFilter() {
        let lowered = Self.links.replacingOccurrences(of: "\"mtu\":1500", with: "\"mtu\":1400")
        #expect(Self.run(["links": lowered])["vxlan-mtu"]?.1 == "vxlan.calico MTU 1450 is above eth0's MTU 1400 − 50: full-size packets are dropped")
        #expect(Self.run(["nm-calico-conf": "<missing>"])["networkmanager-unmanaged"]?.0 == .warning)
        #expect(Self.run(["nm-calico-conf": "<missing>", "networkmanager": "inactive\n"])["networkmanager-unmanaged"] == nil)
        #expect(Self.run(["rp-filter": "net.ipv4.conf.all.rp_filter = 1\n"])["rp-filter"]?.0 == .info)
    }

    @Test func vxlanChecksStayQuietOnAnIPIPCluster() {
        var ipip = Self.cluster
        ipip.vxlanMode = "Never"
        #expect(Self.run(["links": "[]", "offload": "tx-checksum-ip-generic: on\n"], cluster: ipip).isEmpty)
    }

    @Test(arguments: [("3.28.0", true), ("3.28.1", false), ("3.28.2", true), ("3.29.4", true), ("3.27.3", false), ("3.30.0", true)])
    func versionsThatArmOffloadAtTheNextRestart(version: String, arming: Bool) {
        #expect(CalicoChecks.offloadArming(version) == arming)
    }

    @Test func offloadRiskIsAClusterWarningNamingTheNodesAtRisk() {
        var nodes: [String: NodeFacts] = [:]
        for (name, kernel, driver, offload) in [("n1", "4.18.0-553.el8", "vmxnet3", "off"), ("n2", "5.14.0-427.el9", "vmxnet3", "off"), ("n3", "5.14.0-427.el9", "veth", "off")] {
            var facts = NodeFacts()
            facts.kernel = kernel
            facts.nicDriver = driver
            facts.offload = offload
            nodes[name] = facts
        }
        let risk = CalicoChecks.offloadRisk(Self.cluster, nodes: nodes)
        #expect(risk?.0 == .warning && risk?.2.hasSuffix("at risk: n2 (5.14.0-427.el9, vmxnet3)") == true, "\(String(describing: risk))")
        var overridden = Self.cluster
        overridden.featureDetectOverride = "ChecksumOffloadBroken=true"
        #expect(CalicoChecks.offloadRisk(overridden, nodes: nodes) == nil)
    }

    static func probes(_ broken: Set<String>, icmp: Bool = false, nodes: [String] = ["n1", "n2", "n3", "n4", "n5", "n6"]) -> [String: [NodeFacts.Probe]] {
        var probes: [String: [NodeFacts.Probe]] = [:]
        for source in nodes {
            probes[source] = nodes.filter { $0 != source }.map { peer in
                let ok = !broken.contains(source) && !broken.contains(peer)
                return NodeFacts.Probe(peer: peer, address: "198.19.0.1", port: 53, icmp: ok || icmp, tcp: ok, fullSize: ok)
            }
        }
        return probes
    }

    static let checks = DatapathProbe.Checks(datapath: "DP", repair: "vxlan-reset", offload: "F2", mtu: "F5")

    @Test func probeFailuresAreBlamedOnBrokenNodesNotOnTheirHealthyPeers() {
        let findings = DatapathProbe.findings(probes: Self.probes(["n2", "n3", "n5"]), suspects: ["n3"], checks: Self.checks)
        #expect(findings.map(\.node) == ["n2", "n3", "n5"])
        #expect(findings.allSatisfy { $0.check == "DP" && $0.severity == .critical && $0.repair == "vxlan-reset" })
        #expect(DatapathProbe.findings(probes: Self.probes([]), suspects: [], checks: Self.checks).isEmpty)
    }

    @Test func icmpWithoutTcpIsF2sFingerprint() {
        let findings = DatapathProbe.findings(probes: Self.probes(["n4"], icmp: true), suspects: [], checks: Self.checks)
        #expect(findings.count == 1 && findings[0].node == "n4" && findings[0].check == "F2" && findings[0].message.contains("ICMP crosses the overlay but TCP does not"))
    }

    @Test func inATwoNodeClusterTheNodeWithItsOwnFindingTakesTheBlame() {
        let findings = DatapathProbe.findings(probes: Self.probes(["n2"], nodes: ["n1", "n2"]), suspects: ["n2"], checks: Self.checks)
        #expect(findings.map(\.node) == ["n2"])
    }

    /// The F5 case a handshake never shows: every other node still sends full-size frames that
    /// n3's smaller NIC drops, while n3's own (smaller) packets get through. Only half of n3's
    /// probes fail, and it is still the one to blame.
    @Test func fullSizePacketsThatDoNotReachANodeAreAnMTUBlackHoleOnThatNode() {
        var probes = Self.probes([])
        for source in probes.keys where source != "n3" {
            probes[source] = probes[source]!.map { probe in
                var probe = probe
                if probe.peer == "n3" { probe.fullSize = false }
                return probe
            }
        }
        let findings = DatapathProbe.findings(probes: probes, suspects: [], checks: Self.checks)
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.node == "n3" && findings.first?.check == "F5" && findings.first?.repair == "mtu-align")
        #expect(findings.first?.message.contains("MTU black hole") == true)
    }

    @Test func aNodeWhoseOwnFindingExplainsTheProbeGetsThatRepairOnly() {
        let findings = DatapathProbe.findings(probes: Self.probes(["n5"]), suspects: ["n5"], explained: ["n5": ["F4"]], checks: Self.checks)
        #expect(findings.count == 1 && findings[0].node == "n5" && findings[0].repair == nil, "\(findings)")
        #expect(findings[0].message.contains("explained by this node's own F4 finding"))
    }

    @Test func probeTargetsAreTheNextPeersPreferringPods() {
        var facts = Self.cluster
        facts.probePods = ["n3": ["198.19.0.129"]]
        let targets = DatapathProbe.targets(for: "n2", ring: .init(["n1", "n2", "n3"]), facts: facts, settings: .init())
        #expect(targets == [.init(peer: "n3", address: "198.19.0.129", port: 53), .init(peer: "n1", address: "198.19.0.0", port: 10250)])
        #expect(DatapathProbe.targets(for: "n2", ring: .init(["n1", "n2", "n3"]), facts: facts, settings: .init(["probe_peers": "1"])).count == 1)
        let command = DatapathProbe.command(targets, timeout: 2)
        #expect(command.contains("p 'n3' '198.19.0.129' 53 &") && command.hasSuffix("wait"))
        #expect(command.contains("ping -M do -s \"$s\""), "a full-size packet with DF set")
        #expect(DatapathProbe.parse(StepOutput(exitStatus: 0, stdout: "n3 198.19.0.129 53 1 1 0\nn1 198.19.0.0 10250 1 1 -\n"))
            == [.init(peer: "n3", address: "198.19.0.129", port: 53, icmp: true, tcp: true, fullSize: false),
                .init(peer: "n1", address: "198.19.0.0", port: 10250, icmp: true, tcp: true, fullSize: nil)])
    }

    /// Kubernetes names the nodes by their FQDN; the inventory by short names. Probe targets and
    /// pods are found through the match, not by the inventory name.
    @Test func probeTargetsFollowTheKubernetesNames() {
        var facts = ClusterFacts()
        facts.nodes = ["n1.dc.example": .init(internalIp: "198.18.1.1", vtep: "198.19.0.0", vxlanMac: nil, kernel: nil, bootId: nil),
                       "n3.dc.example": .init(internalIp: "198.18.1.3", vtep: "198.19.0.128", vxlanMac: nil, kernel: nil, bootId: nil)]
        facts.probePods = ["n3.dc.example": ["198.19.0.129"]]
        facts.kubernetesNames = ["n1": "n1.dc.example", "n3": "n3.dc.example"]
        let targets = DatapathProbe.targets(for: "n2", ring: .init(["n1", "n2", "n3"]), facts: facts, settings: .init())
        #expect(targets == [.init(peer: "n3", address: "198.19.0.129", port: 53), .init(peer: "n1", address: "198.19.0.0", port: 10250)])
    }

    @Test func clusterFactsComeFromKubectlJSON() {
        let nodes = #"{"items":[{"metadata":{"name":"n1","annotations":{"projectcalico.org/IPv4VXLANTunnelAddr":"198.19.0.0","projectcalico.org/VXLANTunnelMACAddr":"66:CA:1B:01:00:01"}},"status":{"addresses":[{"type":"InternalIP","address":"198.18.1.1"}],"nodeInfo":{"kernelVersion":"4.18.0","bootID":"b1"}}}]}"#
        let ds = #"{"spec":{"template":{"spec":{"containers":[{"name":"calico-node","image":"docker.io/calico/node:v3.28.2"}]}}}}"#
        let pools = #"{"items":[{"spec":{"cidr":"198.19.0.0/16","vxlanMode":"Always","ipipMode":"Never"}}]}"#
        let pods = #"{"items":[{"spec":{"nodeName":"n1"},"status":{"conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[{"restartCount":4}]},"metadata":{"name":"calico-node-x"}}]}"#
        let facts = ClusterFacts.parse([
            "k8s-nodes": StepOutput(exitStatus: 0, stdout: nodes), "calico-node-ds": StepOutput(exitStatus: 0, stdout: ds),
            "ippools": StepOutput(exitStatus: 0, stdout: pools), "calico-pods": StepOutput(exitStatus: 0, stdout: pods),
            "felixconfiguration": StepOutput(exitStatus: 1, stdout: "", stderr: "Error from server (NotFound): felixconfigurations \"default\" not found"),
            "kube-controllers": StepOutput(exitStatus: 1, stdout: "", stderr: "connection refused"),
        ])
        #expect(facts.nodes["n1"] == .init(internalIp: "198.18.1.1", vtep: "198.19.0.0", vxlanMac: "66:ca:1b:01:00:01", kernel: "4.18.0", bootId: "b1"))
        #expect(facts.calicoVersion == "3.28.2" && facts.usesVXLAN == true && !facts.offloadOverridden)
        #expect(facts.calicoPods["n1"] == .init(name: "calico-node-x", ready: false, restarts: 4))
        #expect(facts.errors == ["kube-controllers: exit 1: connection refused"], "a missing FelixConfiguration is a default install, not an error")
    }
}

/// Several steps in one channel: the script runs in a real shell, and each step gets back its
/// own stdout, stderr and exit status, whatever the others print.
@Suite struct StepBatchTests {
    static func run(_ batch: StepBatch) throws -> (String, String) {
        let process = Process()
        // As sshd would start it: the test process's threads block SIGCHLD, and a child shell
        // inheriting that mask never returns from `wait`.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv('/bin/sh', ['sh', '-c', sys.argv[1]])",
            batch.command.command,
        ]
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test(arguments: [false, true])
    func eachStepGetsItsOwnOutputAndStatus(parallel: Bool) throws {
        let batch = StepBatch([
            .init(name: "two-lines", command: "echo one; echo two", timeout: 5),
            .init(name: "no-newline", command: "printf 'x'; printf 'warn' >&2; exit 3", timeout: 5),
            .init(name: "quotes", command: "echo \"it's $((1 + 1))\"", timeout: 5),
            .init(name: "slow", command: "sleep 10", timeout: 1),
            .init(name: "empty", command: "true", timeout: 5),
            .init(name: "plain", command: "uname -s", timeout: 5),
            .init(name: "missing", command: "no-such-program-anywhere --x", timeout: 5),
        ], parallel: parallel)
        let (stdout, stderr) = try Self.run(batch)
        // Each step's limit and printed size, which these comparisons leave aside.
        let steps = batch.split(stdout: stdout, stderr: stderr, timedOut: false, truncated: false).mapValues { step in
            var plain = step
            (plain.limit, plain.size) = (nil, nil)
            return plain
        }
        #expect(steps["two-lines"] == StepOutput(exitStatus: 0, stdout: "one\ntwo\n"))
        #expect(steps["no-newline"] == StepOutput(exitStatus: 3, stdout: "x", stderr: "warn"))
        #expect(steps["quotes"]?.stdout == "it's 2\n")
        #expect(steps["slow"]?.timedOut == true && steps["slow"]?.succeeded == false)
        #expect(steps["empty"] == StepOutput(exitStatus: 0, stdout: ""))
        #expect(steps["plain"] == StepOutput(exitStatus: 0, stdout: "Linux\n"))
        #expect(steps["missing"]?.exitStatus == 127 && steps["missing"]?.stderr.contains("no-such-program-anywhere") == true)
        let sizes = batch.split(stdout: stdout, stderr: stderr, timedOut: false, truncated: false).mapValues(\.size)
        #expect(sizes["two-lines"] == 8 && sizes["empty"] == 0 && sizes["plain"] == 6)
    }

    /// A plain command line runs as the program itself (one process fewer on every node);
    /// anything the shell must read, or a builtin `timeout` cannot run, goes through `sh -c`.
    @Test func plainCommandsRunWithoutAShell() {
        #expect(StepBatch.invocation("uname -r") == "uname -r")
        #expect(StepBatch.invocation("ip  -j route show dev vxlan.calico") == "ip -j route show dev vxlan.calico")
        #expect(StepBatch.invocation("sysctl net.ipv4.conf.all.rp_filter") == "sysctl net.ipv4.conf.all.rp_filter")
        for shell in ["echo hi", "exit 3", "cd /tmp", ". /etc/os-release", "A=1 env", "ls *", "ls ~", "a | b", "a; b", "a && b", "cat $HOME/x",
                      "echo \"x\"", "ls 'a b'", "-x", "cat /etc/x\nrm y", "test -f x", "command -v ip", "{ a; }", "(a)", "a > b", "a`b`"] {
            #expect(StepBatch.invocation(shell) == "sh -c " + ShellQuote.quote(shell), "\(shell)")
        }
    }

    @Test func stepsCutOffByTheChannelAreMissingOrMarked() throws {
        let batch = StepBatch([.init(name: "a", command: "echo a", timeout: 5), .init(name: "b", command: "echo b", timeout: 5)])
        let (stdout, _) = try Self.run(batch)
        // Cut inside b's exit line: b ran, but its end never came.
        let cut = String(stdout[..<stdout.range(of: "\n\(batch.marker)-exit b ")!.lowerBound]) + "\n\(batch.marker)-ex"
        let steps = batch.split(stdout: cut, stderr: "", timedOut: true, truncated: false)
        #expect(steps["a"]?.stdout == "a\n")
        #expect(steps["b"] == nil || steps["b"]?.timedOut == true)
    }
}
