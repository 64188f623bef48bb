import CaulkAPI
import CaulkSSH
import Foundation
import HeapModule

/// The one check that tells the truth about the overlay: from each node, a TCP connect, an ICMP
/// ping and a full-size don't-fragment ping to a pod address on other nodes. "ICMP yes, TCP no"
/// is F2's fingerprint; "TCP yes, full size no" is an MTU black hole (F5), which a handshake
/// alone never shows.
enum DatapathProbe {
    struct Target: Equatable {
        var peer: String
        var address: String
        var port: Int
    }

    /// A cluster's nodes in name order, each probing the next ones after it (so every node is
    /// also probed by as many others). Built once per audit: finding a node's place is a lookup.
    struct Ring: Sendable {
        let sorted: [String]
        private let position: [String: Int]

        init(_ nodes: some Sequence<String>) {
            sorted = Set(nodes).sorted()
            position = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
        }

        /// The `limit` nodes after `node`, wrapping around; none for a node not in the ring.
        func peers(of node: String, limit: Int) -> [String] {
            guard let index = position[node] else { return [] }
            return (1..<max(sorted.count, 1)).prefix(max(0, limit)).map { sorted[(index + $0) % sorted.count] }
        }
    }

    /// How the probe runs, from the audit playbook's parameters (`probe_peers`, `probe_port`,
    /// `vtep_port`, `probe_timeout`); the same defaults where one is absent or not a number.
    struct Settings: Sendable, Equatable {
        var peers = 8
        var podPort = 53
        var vtepPort = 10250
        var timeout = 2

        init(_ parameters: [String: String] = [:]) {
            func number(_ name: String) -> Int? { parameters[name].flatMap { Int($0) } }
            peers = number("probe_peers") ?? peers
            podPort = number("probe_port") ?? podPort
            vtepPort = number("vtep_port") ?? vtepPort
            timeout = number("probe_timeout") ?? timeout
        }
    }

    /// Peers `node` probes: the next `settings.peers` nodes after it in `ring`. Each peer's
    /// address is a selected pod on it, or else its VXLAN tunnel address. Names are the
    /// inventory's; `facts` knows their Kubernetes names.
    static func targets(for node: String, ring: Ring, facts: ClusterFacts, settings: Settings) -> [Target] {
        ring.peers(of: node, limit: settings.peers).compactMap { peer in
            if let pod = facts.probePods(on: peer).first { return Target(peer: peer, address: pod, port: settings.podPort) }
            if let vtep = facts.node(peer)?.vtep { return Target(peer: peer, address: vtep, port: settings.vtepPort) }
            return nil
        }
    }

    /// Probes every target at once and prints `peer address port icmp tcp full` per target (1/0;
    /// full is `-` without a vxlan.calico to take the size from). A refused connection counts as
    /// crossing: the peer's reset came back over the overlay. The full-size ping carries the
    /// node's vxlan.calico MTU less the IP and ICMP headers, with DF set.
    static func command(_ targets: [Target], timeout: Int) -> String {
        let probe = #"""
            s=$(( $(cat /sys/class/net/vxlan.calico/mtu 2>/dev/null || echo 0) - 28 ))
            k() { if e=$(timeout "$t" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>&1); then return 0; fi; \
            case $e in *refused*) return 0;; esac; return 1; }
            p() { if ping -c1 -W"$t" "$2" >/dev/null 2>&1; then i=1; else i=0; fi; \
            if k "$2" "$3" || k "$2" "$3"; then c=1; else c=0; fi; f=-; \
            if [ "$s" -gt 0 ]; then if ping -M do -s "$s" -c1 -W"$t" "$2" >/dev/null 2>&1; then f=1; else f=0; fi; fi; \
            echo "$1 $2 $3 $i $c $f"; }
            """#
        let calls = targets.map { "p \(ShellQuote.quote($0.peer)) \(ShellQuote.quote($0.address)) \($0.port) &" }
        return (["t=\(timeout)", probe] + calls + ["wait"]).joined(separator: "\n")
    }

    static func parse(_ output: StepOutput) -> [NodeFacts.Probe] {
        output.lines.compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 6, let port = Int(fields[2]) else { return nil }
            let full: Bool? = fields[5] == "-" ? nil : fields[5] == "1"
            return NodeFacts.Probe(peer: fields[0], address: fields[1], port: port, icmp: fields[3] == "1", tcp: fields[4] == "1", fullSize: full)
        }
    }

    /// Check ids the probe files its findings under, and the repairs they call for.
    struct Checks {
        /// The `datapath` check, and its repair for a datapath nothing else explains.
        var datapath: String
        var repair: String?
        /// ICMP passes and TCP does not: the `checksum-offload` check's id.
        var offload: String?
        /// TCP passes and full-size packets do not: the `vxlan-mtu` check's id.
        var mtu: String?
    }

    /// Whose fault a failed probe is. A pair of nodes that cannot talk could be either one's
    /// fault, so blame goes greedily to the node with the largest share of failed probes (at
    /// least half of those it takes part in, from it or to it), preferring nodes whose own checks
    /// found something critical (`suspects`), then the first name; its probes are then set aside
    /// and the rest weighed again. A healthy node that cannot reach broken peers is thus not
    /// blamed, and a node that only fails to receive (a small NIC MTU) still is. Failures no node
    /// explains are reported against the cluster. A blamed node whose own findings already have
    /// a repair (`explained`: node → those check ids) gets no repair from the probe: fixing the
    /// cause is enough, and a firewall fault never earns a calico-node restart.
    ///
    /// Setting a node's probes aside changes only its peers' shares, so the shares live in a heap
    /// updated per probe: O(p·log p) for p probes, which matters most when the whole overlay is
    /// down, the case caulk exists for.
    static func findings(
        probes: [String: [NodeFacts.Probe]], suspects: Set<String>, explained: [String: [String]] = [:], checks: Checks
    ) -> [Finding] {
        let pairs = probes.sorted { $0.key < $1.key }.flatMap { source, results in results.map { (from: source, probe: $0) } }
        let blamed = blame(pairs.map { (from: $0.from, to: $0.probe.peer, failed: !$0.probe.passed) }, suspects: suspects)
        var involvement: [String: [Int]] = [:]
        for (index, pair) in pairs.enumerated() where blamed.contains(pair.from) || blamed.contains(pair.probe.peer) {
            for node in Set([pair.from, pair.probe.peer]) where blamed.contains(node) { involvement[node, default: []].append(index) }
        }
        var findings: [Finding] = []
        for node in blamed.sorted() {
            let involved = involvement[node, default: []].map { pairs[$0] }
            let failures = involved.filter { !$0.probe.passed }
            let evidence = Excerpt.of(failures.map { pair in
                let probe = pair.probe
                let full = probe.fullSize.map { $0 ? "yes" : "no" } ?? "-"
                return "\(pair.from) → \(probe.peer) \(probe.address):\(probe.port) tcp=\(probe.tcp ? "yes" : "no") icmp=\(probe.icmp ? "yes" : "no") full-size=\(full)"
            }.joined(separator: "\n"))
            let icmpOnly = failures.filter { !$0.probe.tcp && $0.probe.icmp }.count
            let sizeOnly = failures.filter { $0.probe.tcp && $0.probe.fullSize == false }.count
            var finding: Finding
            if icmpOnly * 2 > failures.count {
                finding = Finding(
                    check: checks.offload ?? checks.datapath, severity: .critical, node: node,
                    message: "ICMP crosses the overlay but TCP does not (\(failures.count) of \(involved.count) probes): the fingerprint of VXLAN checksum offload on a buggy NIC path (F2)",
                    evidence: evidence, repair: "offload-off")
            } else if sizeOnly * 2 > failures.count {
                finding = Finding(
                    check: checks.mtu ?? checks.datapath, severity: .critical, node: node,
                    message: "full-size packets do not cross the overlay to or from this node while TCP handshakes do (\(failures.count) of \(involved.count) probes): an MTU black hole (F5)",
                    evidence: evidence, repair: "mtu-align")
            } else {
                finding = Finding(
                    check: checks.datapath, severity: .critical, node: node,
                    message: "neither TCP nor ICMP crosses the overlay for \(failures.count) of \(involved.count) probes to or from this node: see its F1/F3/F4/F5 findings",
                    evidence: evidence, repair: checks.repair)
            }
            if let own = explained[node], !own.isEmpty {
                finding.repair = nil
                finding.message += "; explained by this node's own \(own.joined(separator: ", ")) finding, whose repair comes first"
            }
            findings.append(finding)
        }
        let unexplained = pairs.filter { !$0.probe.passed && !blamed.contains($0.from) && !blamed.contains($0.probe.peer) }.map { ($0.from, $0.probe) }
        if !unexplained.isEmpty {
            findings.append(Finding(
                check: checks.datapath, severity: .warning, node: nil,
                message: "\(unexplained.count) probe(s) across the overlay failed without a node to blame",
                evidence: Excerpt.of(unexplained.map { "\($0.0) → \($0.1.peer) \($0.1.address):\($0.1.port) tcp=\($0.1.tcp ? "yes" : "no") icmp=\($0.1.icmp ? "yes" : "no")" }.sorted().joined(separator: "\n")),
                repair: nil))
        }
        return findings
    }

    /// One node's standing in the greedy blame: its failed and total probes among those not yet
    /// set aside. Orders by share of failures, then suspects, then the earlier name.
    private struct Standing: Comparable {
        var failed: Int
        var total: Int
        var suspect: Bool
        var node: String

        static func < (a: Standing, b: Standing) -> Bool {
            let (left, right) = (a.failed * b.total, b.failed * a.total)
            if left != right { return left < right }
            if a.suspect != b.suspect { return !a.suspect }
            return a.node > b.node
        }
    }

    /// The nodes to blame (see `findings`). A heap entry is stale
    /// once its node's counts moved on or the node was blamed; stale entries are skipped.
    static func blame(_ pairs: [(from: String, to: String, failed: Bool)], suspects: Set<String>) -> Set<String> {
        var counts: [String: (failed: Int, total: Int)] = [:]
        var pairsOf: [String: [Int]] = [:]
        for (index, pair) in pairs.enumerated() {
            for node in [pair.from, pair.to] {
                counts[node, default: (0, 0)].total += 1
                if pair.failed { counts[node]!.failed += 1 }
                pairsOf[node, default: []].append(index)
            }
        }
        func standing(_ node: String) -> Standing? {
            guard let count = counts[node], count.failed > 0, count.failed * 2 >= count.total else { return nil }
            return Standing(failed: count.failed, total: count.total, suspect: suspects.contains(node), node: node)
        }
        var heap = Heap(counts.keys.compactMap(standing))
        var blamed: Set<String> = []
        var setAside = [Bool](repeating: false, count: pairs.count)
        while let top = heap.popMax() {
            guard !blamed.contains(top.node), let count = counts[top.node], count == (top.failed, top.total) else { continue }
            blamed.insert(top.node)
            for index in pairsOf[top.node, default: []] where !setAside[index] {
                setAside[index] = true
                let pair = pairs[index]
                for node in [pair.from, pair.to] where !blamed.contains(node) {
                    counts[node]!.total -= 1
                    if pair.failed { counts[node]!.failed -= 1 }
                }
                for node in Set([pair.from, pair.to]) where !blamed.contains(node) {
                    if let next = standing(node) { heap.insert(next) }
                }
            }
        }
        return blamed
    }
}
