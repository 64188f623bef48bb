import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

/// Property tests: whatever the importers, the playbook loader and the cron parser are given, they
/// answer with a result or their own error with a message — never a trap, never a hang.
///
/// Every run draws a new seed, printed first (a trap ends the process, so the seed must already be
/// in the log); `CAULK_FUZZ_SEED=<seed> swift test --filter CaulkDomainTests.FuzzTests` repeats
/// that run. A failure also names the seed of its own input and shows the input.
@Suite struct FuzzTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["CAULK_FUZZ_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 0...UInt64.max)

    /// Longest any single input may take; linear work on these small inputs takes milliseconds.
    static let slow = Duration.seconds(1)

    @Test func ansibleINIImportNeverTraps() {
        var fuzz = Fuzzer("ansible-ini", seeds: [ImportTests.ansibleINI, Self.iniRoles, Self.iniRanges])
        fuzz.run(4000) { text, random in
            if let inventory = try? AnsibleINI.parse(text) { #expect(inventory.hostOrder.count <= AnsibleINI.maxHosts) }
            let cluster = random.chance(0.2) ? "forced" : nil
            let format: InventoryFormat = random.chance(0.25) ? .auto : .ansibleIni
            let (_, clusters) = try InventoryImport.parse(text, format: format, cluster: cluster, now: Self.now)
            Self.checkInvariants(clusters)
        }
    }

    @Test func ansibleYAMLImportNeverTraps() {
        var fuzz = Fuzzer("ansible-yaml", seeds: [ImportTests.ansibleYAML, Self.yamlAnchors])
        fuzz.run(3000) { text, random in
            let cluster = random.chance(0.2) ? "forced" : nil
            let (_, clusters) = try InventoryImport.parse(text, format: .ansibleYaml, cluster: cluster, now: Self.now)
            Self.checkInvariants(clusters)
        }
    }

    @Test func caulkFormatImportNeverTraps() {
        var fuzz = Fuzzer("caulk", seeds: [ImportTests.caulkYAML, Self.caulkJSON])
        fuzz.run(3000) { text, random in
            let format: InventoryFormat = random.chance(0.5) ? .caulk : .auto
            let (_, clusters) = try InventoryImport.parse(text, format: format, cluster: nil, now: Self.now)
            Self.checkInvariants(clusters)
        }
    }

    @Test func playbookLoaderNeverTraps() {
        let seeds = Embedded.files.filter { $0.name.hasSuffix(".yaml") }.map(\.contents) + [PlaybookTests.minimal]
        #expect(seeds.count > 5)
        var fuzz = Fuzzer("playbook", seeds: seeds)
        fuzz.run(1500) { text, _ in
            let playbook = try PlaybookLoader.parse(text, source: "fuzz.yaml")
            #expect(!playbook.name.isEmpty)
            #expect(!playbook.steps.isEmpty || !playbook.repairs.isEmpty)
            #expect(Set(playbook.steps.map(\.name)).count == playbook.steps.count)
            #expect(Set(playbook.checks.map(\.id)).count == playbook.checks.count)
        }
    }

    @Test func cronNeverTrapsAndNextFireIsBoundedAndAfterTheStart() {
        var fuzz = Fuzzer("cron", seeds: ["*/15 * * * *", "0 12 1 * MON", "5-55/10 0,12 L * SUN-SAT", "@daily", "0 0 29 2 *"])
        fuzz.structured = Self.cronExpression
        fuzz.run(10000) { text, random in
            let cron = try CronExpression(text)
            for _ in 0..<3 {
                let start = Self.start(&random)
                guard let fire = cron.next(after: start) else { continue }
                #expect(fire > start, "seed \(random.seed): \(fire) is not after \(start)")
                #expect(fire.timeIntervalSince(start) < 6 * 366 * 86400, "seed \(random.seed)")
                #expect(fire.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0, "seed \(random.seed)")
                #expect(cron.matches(fire), "seed \(random.seed): \(fire) does not match")
                if let again = cron.next(after: fire) { #expect(again > fire, "seed \(random.seed)") }
            }
        }
    }

    // MARK: - Invariants and inputs

    static let now = Date(timeIntervalSince1970: 1_770_000_000)

    /// What any import that succeeds must hold.
    static func checkInvariants(_ clusters: [InventoryCluster]) {
        #expect(!clusters.isEmpty)
        #expect(clusters.reduce(0) { $0 + $1.nodes.count } <= AnsibleINI.maxHosts)
        #expect(Set(clusters.map(\.cluster.name)).count == clusters.count)
        for cluster in clusters {
            #expect(Validate.isLabel(cluster.cluster.name, allowUppercase: false))
            #expect(Set(cluster.nodes.map(\.name)).count == cluster.nodes.count)
            #expect(cluster.nodes.allSatisfy { Validate.isLabel($0.name, allowUppercase: false) })
        }
    }

    /// Starts for `next(after:)`: ordinary times, fractions of a second, the ends of `Date`, the epoch,
    /// leap days, and far past and future.
    fileprivate static func start(_ random: inout SplitMix64) -> Date {
        switch random.int(0..<6) {
        case 0: return random.pick([Date.distantPast, .distantFuture, Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.5)])
        case 1: return Date(timeIntervalSince1970: 951_782_400 + Double(random.int(-3000..<3000)) * 60)  // around 2000-02-29
        case 2: return Date(timeIntervalSince1970: Double(random.int(-10_000_000_000_000..<10_000_000_000_000)) / 1000)
        default: return Date(timeIntervalSince1970: 1_700_000_000 + Double(random.int(0..<400_000_000)) + random.unit())
        }
    }

    /// A cron expression built from the grammar's pieces, right and wrong.
    fileprivate static func cronExpression(_ random: inout SplitMix64) -> String {
        func number() -> String {
            switch random.int(0..<10) {
            case 0: random.pick(["99999999999999999999", "9223372036854775807", "9223372036854775808", "-1", "+5", "007", "", "0x1F", "1e3", "٣", "Ⅻ"])
            default: String(random.int(0..<70))
            }
        }
        func name() -> String {
            random.pick(["JAN", "feb", "Dec", "SUN", "mon", "Sat", "SUNDAY", "L", "W", "LW", "5L", "1#3", "?", "J", "JANUARY", "ß"])
        }
        func item() -> String {
            var text: String
            switch random.int(0..<8) {
            case 0, 1: text = "*"
            case 2, 3: text = number()
            case 4: text = number() + "-" + number()
            case 5: text = name()
            case 6: text = name() + "-" + (random.chance(0.5) ? name() : number())
            default: text = random.pick(["-", "*-*", "1-2-3", "*/", "//", ",", "**", "\u{0}", " ", "🦭"])
            }
            if random.chance(0.3) { text += "/" + number() }
            if random.chance(0.05) { text += "/" + number() }
            return text
        }
        func field() -> String { (0..<random.int(1..<4)).map { _ in item() }.joined(separator: random.chance(0.95) ? "," : ",,") }
        if random.chance(0.05) {
            return random.pick(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@reboot", "@", "@HOURLY", "@daily *"])
        }
        let count = random.chance(0.9) ? 5 : random.int(0..<8)
        let separator = random.chance(0.9) ? " " : random.pick(["\t", "  ", "\n", "\u{00A0}", "\u{3000}"])
        return (0..<count).map { _ in field() }.joined(separator: separator)
    }

    static let iniRoles = """
        [clusters:children]
        prod_a
        prod_b

        [clusters:vars]
        ansible_user=caulk
        ansible_become=true

        [prod_a]
        a-cp1.example.com ansible_host=198.18.1.1
        a-w1.example.com ansible_host=198.18.1.2 caulk_labels=zone=a,rack=2

        [prod_b]
        b-cp1.example.com ansible_host=198.18.2.1
        b-w1.example.com ansible_host=198.18.2.2 caulk_node_name=bw1

        [control_plane]
        a-cp1.example.com
        b-cp1.example.com

        [etcd:children]
        control_plane
        """

    static let iniRanges = """
        [all:vars]
        caulk_api_endpoint=https://198.18.9.1:6443
        ; comment
        [lab]
        node[01:20] ansible_user=core ansible_port=2222
        web-[a:f].lab ansible_become_user=root
        "quoted host" caulk_cluster='lab'
        """

    static let yamlAnchors = """
        all:
          vars: &common {ansible_user: root, ansible_port: 22}
          children:
            edge:
              vars: *common
              hosts:
                e-cp1: {ansible_host: 198.18.5.1, caulk_role: control-plane}
                e-w1: &worker {ansible_host: 198.18.5.2}
                e-w2: {ansible_host: 198.18.5.3, <<: *common}
            edge_control_plane:
              hosts: {e-cp2: ~}
        """

    static let caulkJSON = #"{"version": "1", "clusters": [{"name": "j", "api_endpoint": "https://198.18.3.1:6443", "ssh": {"user": "caulk", "become": "root", "port": 22}, "nodes": [{"name": "n1", "address": "198.18.3.1", "labels": {"zone": "a"}}, {"name": "n2", "address": "fd00::2", "role": "control-plane"}]}]}"#
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence for the same seed everywhere.
struct SplitMix64: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { unit() < probability }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }
}

/// Feeds a function inputs: random bytes, random text from the characters that mean something to
/// YAML, INI and cron, mutations of valid seed documents, and (when given) structured ones.
fileprivate struct Fuzzer {
    let name: String
    let seeds: [String]
    var structured: ((inout SplitMix64) -> String)?
    private var random: SplitMix64

    init(_ name: String, seeds: [String]) {
        self.name = name
        self.seeds = seeds
        random = SplitMix64(seed: FuzzTests.seed ^ UInt64(truncatingIfNeeded: name.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
    }

    /// Runs `body` on `count` inputs; it may throw only `DomainError` or `CronError`, each with a message.
    mutating func run(_ count: Int, _ body: (String, inout SplitMix64) throws -> Void) {
        print("FuzzTests \(name): \(count) inputs, CAULK_FUZZ_SEED=\(FuzzTests.seed)")
        let clock = ContinuousClock()
        var (passed, refused) = (0, 0)
        let elapsed = clock.measure {
            for _ in 0..<count {
                var input = SplitMix64(seed: random.next())
                let text = generate(&input)
                let shown = "seed \(input.seed) (input of CAULK_FUZZ_SEED=\(FuzzTests.seed)): \(String(reflecting: String(text.prefix(400))))"
                let started = clock.now
                do {
                    try body(text, &input)
                    passed += 1
                } catch let error as DomainError {
                    refused += 1
                    #expect(!error.message.isEmpty && !error.description.isEmpty, "empty message for \(shown)")
                } catch let error as CronError {
                    refused += 1
                    let prefix = "cron '\(text)': "
                    #expect(error.message.utf8.starts(with: prefix.utf8) && error.message.utf8.count > prefix.utf8.count, "no message for \(shown)")
                } catch {
                    Issue.record("\(type(of: error)) \(error) is not the module's own error, for \(shown)")
                }
                let took = clock.now - started
                if took > FuzzTests.slow { Issue.record("took \(took) for \(shown)") }
            }
        }
        print("FuzzTests \(name): \(passed) parsed, \(refused) refused, in \(elapsed)")
    }

    private func generate(_ random: inout SplitMix64) -> String {
        switch random.int(0..<10) {
        case 0: return randomBytes(&random)
        case 1: return randomText(&random)
        case 2, 3: if let structured { return structured(&random) } else { return mutate(random.pick(seeds), &random) }
        default: return mutate(random.pick(seeds), &random)
        }
    }

    static let specials = [
        "[", "]", ":", "*", "&", "<<", "<<: *a", "\0", "{", "}", ",", "-", "- ", "#", ";", "'", "\"", "\n", "\r\n", "\r", "\t", "=", " ",
        "é", "🦭", "e\u{301}", "\u{202E}", "\u{FEFF}", "\u{2028}", "\u{85}", "\u{FFFD}", "ǅ", "٣", "&a ", "*a", "!!binary ", "!!map ",
        "!!int ", "? ", "|", ">-", "%YAML 1.1\n", "---\n", "...\n", "~", "null", "99999999999999999999", "-9223372036854775808",
        "9223372036854775807", "[0:99999]", "[a:z]", "[9:0]", "[0:9]", "[-9223372036854775808:9223372036854775807]", ":children", ":vars",
        "ansible_host=", "ansible_port=99999999999999999999", "caulk_cluster=", "caulk_role=control-plane", "caulk_labels==,=",
        "ansible_become=maybe", "{{", "}}", "{{cluster}}", "{{nope}}", "(?<", "\\", "/", "@", "`", "%", "!", "0x", ".inf", "-.nan",
    ]

    /// 1 to 4 edits: a flipped bit, a truncation, a duplicated, deleted or swapped line, an inserted
    /// special character or sequence, a very long token.
    private func mutate(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        for _ in 0..<random.int(1..<5) {
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            switch random.int(0..<9) {
            case 0 where !bytes.isEmpty:
                bytes[random.int(0..<bytes.count)] ^= 1 << UInt8(random.int(0..<8))
            case 1:
                bytes = Array(bytes.prefix(random.int(0..<bytes.count + 1)))
            case 2:
                let line = random.int(0..<lines.count)
                lines.insert(lines[line], at: random.int(0..<lines.count + 1))
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 3 where lines.count > 1:
                lines.remove(at: random.int(0..<lines.count))
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 4:
                lines.swapAt(random.int(0..<lines.count), random.int(0..<lines.count))
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 5 where random.chance(0.5):
                bytes.insert(contentsOf: longToken(&random).utf8, at: random.int(0..<bytes.count + 1))
            case 5:
                let line = random.int(0..<lines.count)
                lines[line] = Array(("h" + longToken(&random) + " ").utf8) + lines[line]
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default:
                bytes.insert(contentsOf: random.pick(Self.specials).utf8, at: random.int(0..<bytes.count + 1))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func longToken(_ random: inout SplitMix64) -> String {
        String(repeating: random.pick(["a", "9", "[", "é", "x:", "- ", "*a ", "[0:1]", "[1:1]", "\t", "{", "{{"]), count: random.int(100..<3000))
    }

    private func randomBytes(_ random: inout SplitMix64) -> String {
        String(decoding: (0..<random.int(0..<300)).map { _ in UInt8.random(in: 0...255, using: &random) }, as: UTF8.self)
    }

    private func randomText(_ random: inout SplitMix64) -> String {
        let alphabet = Array("[]:*&<>{},-#;'\"\n\n\n  \t=|!?%~@`ab1.09/\\\u{0}é🦭")
        return String((0..<random.int(0..<300)).map { _ in random.pick(alphabet) })
    }
}

extension DomainError {
    /// The message alone, without line or field.
    fileprivate var message: String {
        switch self {
        case .invalid(_, let message), .invalidInventory(_, _, let message), .invalidPlaybook(_, _, _, let message),
            .notFound(let message), .conflict(let message):
            message
        }
    }
}

