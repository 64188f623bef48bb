import CaulkAPI
import CaulkSSH
import Foundation

/// The one check that tells the truth about the overlay: from each node, a TCP connect and an
/// ICMP ping to a pod address on other nodes. "ICMP yes, TCP no" is F2's fingerprint.
enum DatapathProbe {
    struct Target: Equatable {
        var peer: String
        var address: String
        var port: Int
    }

    /// Peers `node` probes: the next `limit` nodes after it in name order (a ring, so every node
    /// is also probed by `limit` others). Each peer's address is a selected pod on it, or else its
    /// VXLAN tunnel address.
    static func targets(for node: String, nodes: [String], facts: ClusterFacts, limit: Int, podPort: Int, vtepPort: Int) -> [Target] {
        let sorted = nodes.sorted()
        guard let index = sorted.firstIndex(of: node), sorted.count > 1 else { return [] }
        let peers = (1..<sorted.count).map { sorted[(index + $0) % sorted.count] }.prefix(max(0, limit))
        return peers.compactMap { peer in
            if let pod = facts.probePods[peer]?.first { return Target(peer: peer, address: pod, port: podPort) }
            if let vtep = facts.nodes[peer]?.vtep { return Target(peer: peer, address: vtep, port: vtepPort) }
            return nil
        }
    }

    /// Probes every target at once and prints `peer address port icmp tcp` per target (1/0).
    /// A refused connection counts as crossing: the peer's reset came back over the overlay.
    static func command(_ targets: [Target], timeout: Int) -> String {
        let probe = #"""
            p() { if ping -c1 -W"$t" "$2" >/dev/null 2>&1; then i=1; else i=0; fi; \
            if e=$(timeout "$t" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>&1); then c=1; else \
            case $e in *refused*) c=1;; *) c=0;; esac; fi; echo "$1 $2 $3 $i $c"; }
            """#
        let calls = targets.map { "p \(ShellQuote.quote($0.peer)) \(ShellQuote.quote($0.address)) \($0.port) &" }
        return (["t=\(timeout)", probe] + calls + ["wait"]).joined(separator: "\n")
    }

    static func parse(_ output: StepOutput) -> [NodeFacts.Probe] {
        output.lines.compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 5, let port = Int(fields[2]) else { return nil }
            return NodeFacts.Probe(peer: fields[0], address: fields[1], port: port, icmp: fields[3] == "1", tcp: fields[4] == "1")
        }
    }

    /// Whose fault a failed probe is. A pair of nodes that cannot talk could be either one's
    /// fault, so blame goes greedily to the node with the largest share of failed probes (over
    /// half of those it takes part in, from it or to it), preferring nodes whose own checks found
    /// something critical; its probes are then set aside and the rest weighed again. A healthy
    /// node that cannot reach broken peers is thus not blamed. Failures no node explains are
    /// reported against the cluster.
    static func findings(
        probes: [String: [NodeFacts.Probe]], suspects: Set<String>, check: String, offloadCheck: String?, repair: String?
    ) -> [Finding] {
        let pairs = probes.flatMap { source, results in results.map { (from: source, probe: $0) } }
        var blamed: [String] = []
        while true {
            var total: [String: Int] = [:]
            var failed: [String: Int] = [:]
            for pair in pairs where !blamed.contains(pair.from) && !blamed.contains(pair.probe.peer) {
                for node in [pair.from, pair.probe.peer] {
                    total[node, default: 0] += 1
                    if !pair.probe.tcp { failed[node, default: 0] += 1 }
                }
            }
            let candidates = failed.filter { $0.value * 2 > total[$0.key]! }
            guard let next = candidates.keys.max(by: { a, b in
                let (ra, rb) = (Double(candidates[a]!) / Double(total[a]!), Double(candidates[b]!) / Double(total[b]!))
                return (ra, suspects.contains(a) ? 1 : 0, b) < (rb, suspects.contains(b) ? 1 : 0, a)
            }) else { break }
            blamed.append(next)
        }
        var findings: [Finding] = []
        for node in blamed.sorted() {
            let involved = pairs.filter { $0.from == node || $0.probe.peer == node }
            let failures = involved.filter { !$0.probe.tcp }
            let evidence = Excerpt.of(failures.map { "\($0.from) → \($0.probe.peer) \($0.probe.address):\($0.probe.port) tcp=no icmp=\($0.probe.icmp ? "yes" : "no")" }.joined(separator: "\n"))
            let icmpOnly = failures.filter { $0.probe.icmp }.count
            if icmpOnly * 2 > failures.count {
                findings.append(Finding(
                    check: offloadCheck ?? check, severity: .critical, node: node,
                    message: "ICMP crosses the overlay but TCP does not (\(failures.count) of \(involved.count) probes): the fingerprint of VXLAN checksum offload on a buggy NIC path (F2)",
                    evidence: evidence, repair: "offload-off"))
            } else {
                findings.append(Finding(
                    check: check, severity: .critical, node: node,
                    message: "neither TCP nor ICMP crosses the overlay for \(failures.count) of \(involved.count) probes to or from this node: see its F1/F3/F4/F5 findings",
                    evidence: evidence, repair: repair))
            }
        }
        let unexplained = pairs.filter { !$0.probe.tcp && !blamed.contains($0.from) && !blamed.contains($0.probe.peer) }.map { ($0.from, $0.probe) }
        if !unexplained.isEmpty {
            findings.append(Finding(
                check: check, severity: .warning, node: nil,
                message: "\(unexplained.count) probe(s) across the overlay failed without a node to blame",
                evidence: Excerpt.of(unexplained.map { "\($0.0) → \($0.1.peer) \($0.1.address):\($0.1.port) icmp=\($0.1.icmp ? "yes" : "no")" }.sorted().joined(separator: "\n")),
                repair: nil))
        }
        return findings
    }
}
