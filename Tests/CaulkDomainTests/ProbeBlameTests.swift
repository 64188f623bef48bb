import Foundation
import Testing

@testable import CaulkAPI
@testable import CaulkDomain

/// The probe's blame, heap-based, against the plain greedy rule it implements.
@Suite struct ProbeBlameTests {
    typealias Pair = (from: String, to: String, failed: Bool)

    /// The rule as first written: weigh every remaining probe again after each node is blamed.
    /// Quadratic or worse, and obviously right; the fast one must choose exactly as it does.
    static func referenceBlame(_ pairs: [Pair], suspects: Set<String>) -> Set<String> {
        var blamed: Set<String> = []
        while true {
            var total: [String: Int] = [:]
            var failed: [String: Int] = [:]
            for pair in pairs where !blamed.contains(pair.from) && !blamed.contains(pair.to) {
                for node in [pair.from, pair.to] {
                    total[node, default: 0] += 1
                    if pair.failed { failed[node, default: 0] += 1 }
                }
            }
            let candidates = failed.filter { $0.value * 2 >= total[$0.key]! }
            guard let next = candidates.keys.max(by: { a, b in
                let (ra, rb) = (Double(candidates[a]!) / Double(total[a]!), Double(candidates[b]!) / Double(total[b]!))
                return (ra, suspects.contains(a) ? 1 : 0, b) < (rb, suspects.contains(b) ? 1 : 0, a)
            }) else { break }
            blamed.insert(next)
        }
        return blamed
    }

    /// A ring of `count` nodes each probing the next `peers`; `fails` says whether a probe fails.
    static func ring(_ count: Int, peers: Int, fails: (Int, Int) -> Bool) -> [Pair] {
        (0..<count).flatMap { from in
            (1...min(peers, count - 1)).map { step in
                let to = (from + step) % count
                return (from: "n\(from)", to: "n\(to)", failed: fails(from, to))
            }
        }
    }

    @Test func choosesExactlyAsThePlainGreedyRuleOnRandomClusters() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let seed = UInt64.random(in: 0...UInt64.max, using: &random)
            var rng = SplitMix64(seed: seed)
            let count = Int.random(in: 2...14, using: &rng)
            let peers = Int.random(in: 1...count, using: &rng)
            let broken = Set((0..<count).filter { _ in Int.random(in: 0..<4, using: &rng) == 0 })
            let noise = Int.random(in: 0..<6, using: &rng)
            let pairs = Self.ring(count, peers: peers) { from, to in
                broken.contains(from) || broken.contains(to) || Int.random(in: 0..<10, using: &rng) < noise
            }
            let suspects = Set((0..<count).filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }.map { "n\($0)" })
            let fast = DatapathProbe.blame(pairs, suspects: suspects)
            let plain = Self.referenceBlame(pairs, suspects: suspects)
            #expect(fast == plain, "round \(round), seed \(seed): \(fast.sorted()) vs \(plain.sorted())")
        }
    }

    @Test func anAllFailedClusterLeavesNoFailureUnexplained() {
        let pairs = Self.ring(200, peers: 8) { _, _ in true }
        let blamed = DatapathProbe.blame(pairs, suspects: [])
        #expect(pairs.allSatisfy { blamed.contains($0.from) || blamed.contains($0.to) })
        #expect(blamed == Self.referenceBlame(pairs, suspects: []))
    }

    /// `bench/blame.sh` runs this one: the whole overlay down on a large cluster, timed. It prints
    /// figures and asserts only what it computed, never a time.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAULK_BENCH_BLAME"] != nil))
    func benchmarkAllFailedCluster() {
        let sizes = (ProcessInfo.processInfo.environment["CAULK_BENCH_BLAME"] ?? "").split(separator: ",").compactMap { Int($0) }
        for count in sizes.isEmpty ? [3000] : sizes {
            var probes: [String: [NodeFacts.Probe]] = [:]
            for pair in Self.ring(count, peers: 8, fails: { _, _ in true }) {
                probes[pair.from, default: []].append(.init(peer: pair.to, address: "198.19.0.1", port: 53, icmp: true, tcp: false, fullSize: nil))
            }
            let checks = DatapathProbe.Checks(datapath: "DP", repair: "vxlan-reset", offload: "F2", mtu: "F5")
            let clock = ContinuousClock()
            var findings: [Finding] = []
            let elapsed = clock.measure {
                findings = DatapathProbe.findings(probes: probes, suspects: [], checks: checks)
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "blame: %d nodes, %d probes, all failed: %.3f s, %d findings", count, count * 8, seconds, findings.count))
            if count <= 1000 {
                let pairs = Self.ring(count, peers: 8) { _, _ in true }
                let plain = clock.measure { _ = Self.referenceBlame(pairs, suspects: []) }
                print(String(format: "blame: %d nodes, the plain greedy rule (before): %.3f s", count, Double(plain.components.seconds) + Double(plain.components.attoseconds) / 1e18))
            }
            #expect(findings.count > count / 3)
        }
    }
}
