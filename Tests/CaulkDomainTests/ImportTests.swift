import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

@Suite struct ImportTests {
    let inventory: InventoryService

    init() throws {
        inventory = InventoryService(store: try Store.inMemory())
    }

    static let caulkYAML = """
        clusters:
          - name: prod-a
            api_endpoint: https://198.18.1.1:6443
            pod_cidr: 198.19.0.0/16
            encapsulation: vxlan
            calico_namespace: kube-system
            ssh: {user: root, port: 22, key: /etc/caulk/id_ed25519}
            nodes:
              - name: cp1
                address: 198.18.1.1
                role: control-plane
                host_key: SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4
              - name: w1
                address: 198.18.1.2
                labels: {zone: a}
                ssh: {port: 2222}
              - name: w2
                address: 198.18.1.3
                host_key: "198.18.1.3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvOAC0Z/8zRrway0oxbTytAMynQrwOXcCZ7I58kpAB0"
          - name: prod-b
            api_endpoint: https://198.18.2.1:6443
            encapsulation: ipip
            nodes:
              - {name: cp1, address: 198.18.2.1, role: control-plane}
        """

    static let ansibleINI = """
        # the same fleet as caulkYAML, as Ansible would have it
        [all:vars]
        ansible_user=root

        [prod_a:children]
        prod_a_control_plane
        prod_a_workers

        [prod_a:vars]
        ansible_ssh_private_key_file=/etc/caulk/id_ed25519
        caulk_pod_cidr=198.19.0.0/16

        [prod_a_control_plane]
        cp1 ansible_host=198.18.1.1 caulk_host_key=SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4

        [prod_a_workers]
        w1 ansible_host=198.18.1.2 ansible_port=2222 caulk_labels=zone=a
        w2 ansible_host=198.18.1.3 caulk_host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvOAC0Z/8zRrway0oxbTytAMynQrwOXcCZ7I58kpAB0"

        [prod_b:vars]
        caulk_encapsulation=ipip

        [prod_b]
        cp1.prod-b.example.com ansible_host=198.18.2.1 caulk_role=control-plane
        """

    static let ansibleYAML = """
        all:
          vars: {ansible_user: root}
          children:
            prod_a:
              vars:
                ansible_ssh_private_key_file: /etc/caulk/id_ed25519
                caulk_pod_cidr: 198.19.0.0/16
              children:
                prod_a_control_plane:
                  hosts:
                    cp1: {ansible_host: 198.18.1.1, caulk_host_key: "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"}
                prod_a_workers:
                  hosts:
                    w1: {ansible_host: 198.18.1.2, ansible_port: 2222, caulk_labels: zone=a}
                    w2: {ansible_host: 198.18.1.3, caulk_host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvOAC0Z/8zRrway0oxbTytAMynQrwOXcCZ7I58kpAB0"}
            prod_b:
              vars: {caulk_encapsulation: ipip}
              hosts:
                cp1.prod-b.example.com: {ansible_host: 198.18.2.1, caulk_role: control-plane}
        """

    /// What every format above must produce, as a comparable snapshot.
    func snapshot() async throws -> [String] { try await Snapshot(inventory: inventory).take() }

    @Test func caulkYAMLImportsAndReimportChangesNothing() async throws {
        let first = try await inventory.importInventory(Self.caulkYAML, format: .auto, dryRun: false, by: "test")
        #expect(first.format == .caulk)
        #expect(first.clusters == ChangeCounts(created: 2))
        #expect(first.nodes == ChangeCounts(created: 4))
        let before = try await snapshot()
        let second = try await inventory.importInventory(Self.caulkYAML, format: .auto, dryRun: false, by: "test")
        #expect(!second.changed)
        #expect(second.message.hasPrefix("no changes"))
        #expect(try await snapshot() == before)
        let w2 = try await inventory.node(cluster: "prod-a", name: "w2")
        #expect(w2.hostKey == "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4")
    }

    @Test func ansibleINIAndYAMLGiveTheSameInventoryAsCaulkYAML() async throws {
        _ = try await inventory.importInventory(Self.caulkYAML, format: .auto, dryRun: false, by: "test")
        let expected = try await snapshot()
        for (text, format) in [(Self.ansibleINI, InventoryFormat.ansibleIni), (Self.ansibleYAML, .ansibleYaml)] {
            let fresh = InventoryService(store: try Store.inMemory())
            let result = try await fresh.importInventory(text, format: .auto, dryRun: false, by: "test")
            #expect(result.format == format)
            #expect(try await Snapshot(inventory: fresh).take() == expected, "format \(format)")
            // and importing the Ansible file over the caulk one changes nothing
            #expect(try await inventory.importInventory(text, format: .auto, dryRun: false, by: "test").changed == false)
        }
    }

    @Test func jsonIsAcceptedAsCaulkFormat() async throws {
        let json = #"{"clusters": [{"name": "j", "api_endpoint": "https://198.18.3.1:6443", "nodes": [{"name": "n1", "address": "198.18.3.1"}]}]}"#
        let result = try await inventory.importInventory(json, format: .auto, dryRun: false, by: "test")
        #expect(result.format == .caulk)
        #expect(result.nodes.created == 1)
    }

    @Test func aBadNodeIsRefusedNamingLineAndFieldAndNothingChanges() async throws {
        let bad = Self.caulkYAML.replacingOccurrences(of: "- name: w2", with: "- name: \"w2;rm -rf /\"")
        let result = await #expect(throws: DomainError.self) {
            try await inventory.importInventory(bad, format: .auto, dryRun: false, by: "test")
        }
        guard case .invalidInventory(let line, let field, let message)? = result else {
            Issue.record("unexpected \(String(describing: result))")
            return
        }
        #expect(line == 17)
        #expect(field == "clusters[0].nodes[2].name")
        #expect(message.contains("DNS-1123"))
        #expect(try await inventory.clusters().items.isEmpty)
    }

    @Test func unknownKeysAndBrokenYAMLNameTheLine() async throws {
        let typo = Self.caulkYAML.replacingOccurrences(of: "encapsulation: ipip", with: "encapsualtion: ipip")
        await #expect(throws: DomainError.invalidInventory(line: 22, field: "clusters[1].encapsualtion", message: "unknown key 'encapsualtion'; expected one of: api_endpoint, calico_namespace, encapsulation, name, nodes, pod_cidr, ssh")) {
            try await inventory.importInventory(typo, format: .auto, dryRun: false, by: "test")
        }
        let broken = "clusters:\n  - name: a\n    nodes: [\n"
        let error = await #expect(throws: DomainError.self) { try await inventory.importInventory(broken, format: .caulk, dryRun: false, by: "test") }
        #expect(error?.description.contains("line") == true)
    }

    @Test func ansibleErrorsNameTheLine() async throws {
        let twoClusters = Self.ansibleINI + "\n[prod_c]\nw1 ansible_host=198.18.1.2\n"
        let error = await #expect(throws: DomainError.self) { try await inventory.importInventory(twoClusters, format: .auto, dryRun: false, by: "test") }
        #expect(error?.description.contains("two clusters") == true)

        let badPort = Self.ansibleINI.replacingOccurrences(of: "ansible_port=2222", with: "ansible_port=70000")
        await #expect(throws: DomainError.invalidInventory(line: 17, field: "host w1 ansible_port", message: "70000 is not a port (1–65535)")) {
            try await inventory.importInventory(badPort, format: .auto, dryRun: false, by: "test")
        }
        let ungrouped = "w9 ansible_host=198.18.9.9\n"
        let lonely = await #expect(throws: DomainError.self) { try await inventory.importInventory(ungrouped, format: .auto, dryRun: false, by: "test") }
        #expect(lonely?.description.contains("--cluster") == true)
        // ... which --cluster fixes; with no control-plane host the endpoint must be given
        let forced = "[all:vars]\ncaulk_api_endpoint=https://198.18.9.1:6443\n[x]\nw9 ansible_host=198.18.9.9\n"
        #expect(try await inventory.importInventory(forced, format: .auto, cluster: "solo", dryRun: false, by: "test").nodes.created == 1)
        #expect(try await inventory.node(cluster: "solo", name: "w9").address == "198.18.9.9")
    }

    /// A common multi-cluster layout: clusters under one parent, role groups spanning them all.
    @Test func roleGroupsSpanningClustersAndAGroupOfClustersAreNotClusters() async throws {
        let text = """
            [clusters:children]
            prod_a
            prod_b

            [clusters:vars]
            ansible_user=caulk
            ansible_ssh_private_key_file=/etc/caulk/id_ed25519

            [prod_a]
            a-cp1.example.com ansible_host=198.18.1.1
            a-w1.example.com ansible_host=198.18.1.2

            [prod_b]
            b-cp1.example.com ansible_host=198.18.2.1
            b-w1.example.com ansible_host=198.18.2.2

            [control_plane]
            a-cp1.example.com
            b-cp1.example.com

            [workers]
            a-w1.example.com
            b-w1.example.com

            [etcd:children]
            control_plane
            """
        let summary = try await inventory.importInventory(text, format: .ansibleIni, dryRun: false, by: "test")
        #expect(summary.clusters.created == 2 && summary.nodes.created == 4, "\(summary)")
        let a = try await inventory.node(cluster: "prod-a", name: "a-cp1")
        #expect(a.role == .controlPlane && a.address == "198.18.1.1")
        #expect(try await inventory.node(cluster: "prod-b", name: "b-w1").role == .worker)
        let cluster = try await inventory.cluster("prod-b")
        #expect(cluster.apiEndpoint == "https://198.18.2.1:6443" && cluster.ssh.user == "caulk", "the parent group's variables are the clusters' defaults")
    }

    /// Fleets that forbid root logins: log in as a user, run commands as root through sudo -n.
    @Test func becomeComesFromCaulkYAMLAndAnsiblesBecomeVariables() async throws {
        let yaml = """
            clusters:
              - name: rhel
                api_endpoint: https://198.18.4.1:6443
                ssh: {user: caulk, become: root}
                nodes:
                  - {name: cp1, address: 198.18.4.1, role: control-plane}
                  - {name: w1, address: 198.18.4.2, ssh: {become: admin}}
            """
        _ = try await inventory.importInventory(yaml, format: .caulk, dryRun: false, by: "test")
        #expect(try await inventory.cluster("rhel").ssh.become == "root")
        #expect(try await inventory.node(cluster: "rhel", name: "w1").ssh.become == "admin")

        let ini = """
            [all:vars]
            ansible_user=caulk
            ansible_become=yes
            [edge]
            e-cp1 ansible_host=198.18.5.1 caulk_role=control-plane
            e-w1 ansible_host=198.18.5.2 ansible_become_user=operator
            """
        _ = try await inventory.importInventory(ini, format: .ansibleIni, dryRun: false, by: "test")
        #expect(try await inventory.cluster("edge").ssh.become == "root")
        #expect(try await inventory.node(cluster: "edge", name: "e-w1").ssh.become == "operator")
        let su = ini.replacingOccurrences(of: "ansible_become=yes", with: "ansible_become=yes\nansible_become_method=su")
        let refused = await #expect(throws: DomainError.self) { try await inventory.importInventory(su, format: .ansibleIni, dryRun: false, by: "test") }
        #expect(refused?.description.contains("sudo -n only") == true, "\(refused?.description ?? "-")")
    }

    @Test func aKubesprayFileIsOneClusterWithItsName() async throws {
        let text = """
            [kube_control_plane]
            node1 ansible_host=198.18.3.1
            [etcd:children]
            kube_control_plane
            [kube_node]
            node2 ansible_host=198.18.3.2
            [k8s_cluster:children]
            kube_control_plane
            kube_node
            """
        let refused = await #expect(throws: DomainError.self) { try await inventory.importInventory(text, format: .ansibleIni, dryRun: false, by: "test") }
        #expect(refused?.description.contains("--cluster") == true, "role groups name no cluster: \(refused?.description ?? "-")")
        #expect(try await inventory.importInventory(text, format: .ansibleIni, cluster: "spray", dryRun: false, by: "test").nodes.created == 2)
        #expect(try await inventory.node(cluster: "spray", name: "node1").role == .controlPlane)
    }

    /// An import is a request like any other: ranges that would make billions of hosts, or a file
    /// past the host limit, are refused at once with the line, not expanded.
    @Test func hostRangesAndFilesAreBounded() throws {
        #expect(throws: DomainError.invalidInventory(line: 2, field: nil, message: "host range 'h[0:99999][0:99999]' expands to more than 10000 hosts")) {
            try AnsibleINI.parse("[c1]\nh[0:99999][0:99999]\n")
        }
        #expect(throws: DomainError.self) { try AnsibleINI.parse("[c1]\nh[0:9][0:9][0:9][0:9][0:9]\n") }
        #expect(try AnsibleINI.parse("[c1]\nh[0:9][0:9][0:9][0:9]\n").hostOrder.count == 10_000)
        let big = "[c1]\n" + (0..<6).map { "r\($0)-[0000:9999]" }.joined(separator: "\n") + "\n"
        #expect(throws: DomainError.invalidInventory(line: 7, field: nil, message: "the inventory holds more than 50000 hosts; split it into several imports")) {
            try AnsibleINI.parse(big)
        }
    }

    @Test func hostRangesCannotOverflowOrHideLongNames() throws {
        // Int bounds whose difference overflows, signs, and numbers past Int are ranges Ansible refuses too.
        for pattern in ["h[-9223372036854775808:9223372036854775807]", "h[-1:1]", "h[+1:2]", "h[0:99999999999999999999]"] {
            #expect(throws: DomainError.invalidInventory(line: 2, field: nil, message: "host range '\(pattern)' must look like [01:20] or [a:f]")) {
                try AnsibleINI.parse("[c1]\n\(pattern)\n")
            }
        }
        // A letter range up to the last code point is counted, not built, before it is refused.
        #expect(throws: DomainError.invalidInventory(line: 2, field: nil, message: "host range 'h[A:\u{10FFFF}]' expands to more than 10000 hosts")) {
            try AnsibleINI.parse("[c1]\nh[A:\u{10FFFF}]\n")
        }
        // 10,000 copies of a long name would be gigabytes.
        let long = "h[0000:9999]" + String(repeating: "x", count: 1_000_000)
        #expect(throws: DomainError.invalidInventory(line: 2, field: nil, message: "host range 'h[0000:9999]xxxxxxxxxxxxxxxxxxxxxxxxxxxx…' is longer than 255 characters")) {
            try AnsibleINI.parse("[c1]\n\(long)\n")
        }
        // Ranges of one value each, 5,000 of them: a 25 KB line that used to overflow the stack.
        let nested = "h" + String(repeating: "[1:1]", count: 5000)
        #expect(throws: DomainError.invalidInventory(line: 2, field: nil, message: "host range 'h[1:1][1:1][1:1][1:1][1:1][1:1][1:1][1:1…' is longer than 255 characters")) {
            try AnsibleINI.parse("[c1]\n\(nested)\n")
        }
        #expect(try AnsibleINI.parse("[c1]\nh" + String(repeating: "[1:1]", count: 50) + "\n").hostOrder == ["h" + String(repeating: "1", count: 50)])
        // Windows line endings are line endings.
        let crlf = try AnsibleINI.parse("[c1]\r\nh1 ansible_host=198.18.0.1\r\nh2\r\n")
        #expect(crlf.hostOrder == ["h1", "h2"] && crlf.hosts["h1"]?.vars["ansible_host"] == "198.18.0.1")
        #expect(InventoryImport.looksLikeINI("[c1]\r\nh1\r\n"))
    }

    /// YAML aliases count as the nodes they repeat. Nine levels of nine ("billion laughs", 9^9
    /// nodes from a few hundred bytes) are refused at once, before Yams builds a tree — it hashes
    /// every mapping key, so an alias used as a key would be walked in full there.
    @Test func aliasBombsAreRefusedAtOnce() async throws {
        let names = "abcdefghi".map(String.init)
        let levels = names.enumerated().map { index, name in
            "\(name): &\(name) [" + Array(repeating: index == 0 ? "x" : "*\(names[index - 1])", count: 9).joined(separator: ", ") + "]"
        }
        let bomb = levels.joined(separator: "\n") + "\n"
        let message = "the file expands to more than 1000000 YAML nodes (aliases included, each time they are used); caulk refuses it: use fewer aliases or split the file"
        let refusal = DomainError.invalidInventory(line: 7, field: nil, message: message)
        let asKey = levels.prefix(6).joined(separator: "\n") + "\n? [*f, *f]\n: x\n"
        let clock = ContinuousClock()
        let took = await clock.measure {
            for format in [InventoryFormat.auto, .ansibleYaml, .caulk] {
                await #expect(throws: refusal) { try await inventory.importInventory(bomb, format: format, dryRun: false, by: "test") }
            }
            await #expect(throws: DomainError.invalidInventory(line: 7, field: nil, message: message)) {
                try await inventory.importInventory(asKey, format: .ansibleYaml, dryRun: false, by: "test")
            }
            #expect(throws: DomainError.invalidPlaybook(file: "bomb.yaml", line: 7, field: nil, message: message)) {
                try PlaybookLoader.parse(bomb, source: "bomb.yaml")
            }
            // Deep nesting is refused too: Yams builds, hashes and frees the tree recursively.
            let deep = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
            #expect(throws: DomainError.invalidInventory(line: 1, field: nil, message: "the file nests YAML collections more than 100 levels deep; caulk refuses it: flatten it")) {
                try InventoryImport.parse(deep, format: .ansibleYaml, cluster: nil, now: Date())
            }
            // Six levels (66,430 nodes under one key) are within the limit; what is left is caulk's own complaint.
            let within = levels.prefix(5).joined(separator: "\n") + "\n"
            let error = await #expect(throws: DomainError.self) { try await inventory.importInventory(within, format: .ansibleYaml, dryRun: false, by: "test") }
            #expect(error?.description.contains("YAML nodes") == false)
        }
        #expect(took < .seconds(2), "took \(took)")
        #expect(try await inventory.clusters().items.isEmpty)
    }

    /// A large fleet in one file still imports, in either YAML format, quickly.
    @Test func fiveThousandHostsImport() async throws {
        let hosts = (0..<5000).map { "w\($0)" }
        let ansible = """
            all:
              vars: {ansible_user: caulk, ansible_become: true}
              children:
                big:
                  children:
                    big_control_plane:
                      hosts:
                        cp1: {ansible_host: 10.0.0.1}
                    big_workers:
                      hosts:

            """ + hosts.enumerated().map { "                    \($1): {ansible_host: 10.1.\($0 / 250).\($0 % 250 + 1), caulk_labels: \"zone=a,rack=r\($0 % 40)\"}" }.joined(separator: "\n") + "\n"
        let caulk = """
            clusters:
              - name: big
                api_endpoint: https://10.0.0.1:6443
                nodes:
                  - {name: cp1, address: 10.0.0.1, role: control-plane}

            """ + hosts.enumerated().map { "      - {name: \($1), address: 10.1.\($0 / 250).\($0 % 250 + 1), labels: {zone: a, rack: r\($0 % 40)}}" }.joined(separator: "\n") + "\n"
        let clock = ContinuousClock()
        for (text, format) in [(ansible, InventoryFormat.ansibleYaml), (caulk, .caulk)] {
            let fresh = InventoryService(store: try Store.inMemory())
            var result: ImportResult?
            let took = try await clock.measure { result = try await fresh.importInventory(text, format: .auto, dryRun: false, by: "test") }
            print("5,001 hosts, \(format), \(text.utf8.count) bytes: imported in \(took)")
            #expect(result?.format == format)
            #expect(result?.nodes.created == 5001)
            #expect(took < .seconds(30), "\(format) took \(took)")
        }
    }

    /// The Ansible importer's work grows with the file, not with its square: a group with 20,000
    /// child groups, 20,000 hosts each in its own group, and thousands of variables caulk does
    /// not read on every host. Each used to scan lists inside loops over hosts or groups.
    @Test func largeAnsibleInventoriesAreNotQuadratic() throws {
        let count = 20_000
        var ini = "[fleet:children]\n" + (0..<count).map { "g\($0)" }.joined(separator: "\n") + "\n"
        ini += (0..<count).map { "[g\($0)]\nh\($0) ansible_host=10.\($0 / 62500).\($0 / 250 % 250).\($0 % 250 + 1)\n" }.joined()
        ini += "[fleet_control_plane]\nh0\n"
        let unread = (0..<2000).map { "x\($0)=1" }
        let vars = "[all:vars]\ncaulk_api_endpoint=https://10.9.9.9:6443\n" + unread.joined(separator: "\n") + "\n[wide]\nw[0000:9999] ansible_host=10.9.9.9 " + unread.joined(separator: " ") + "\n"
        let clock = ContinuousClock()
        var clusters: [InventoryCluster] = []
        let groups = try clock.measure { clusters = try InventoryImport.parse(ini, format: .ansibleIni, cluster: nil, now: Date()).1 }
        #expect(clusters.map(\.cluster.name) == ["fleet"] && clusters.first?.nodes.count == count)
        let wide = try clock.measure { clusters = try AnsibleINI.parse(vars).clusters(forcedCluster: "wide", now: Date()) }
        #expect(clusters.first?.nodes.count == 10_000)
        print("\(count) groups of one host: \(groups); 10,000 hosts with 2,000 unread variables each: \(wide)")
        // Before: 134 s and 18 s in a debug build.
        #expect(groups < .seconds(10))
        #expect(wide < .seconds(5))
    }

    /// A group tree 1,000 deep with 20,000 hosts each in a group of its own at the bottom: every
    /// host used to walk (and sort) the whole tree above it, 20,000 × 1,000 steps.
    @Test func deepGroupTreesAreWalkedOncePerGroup() throws {
        let (depth, count) = (1000, 20_000)
        var ini = "[all:vars]\ncaulk_api_endpoint=https://10.9.9.9:6443\n"
        ini += (0..<depth).map { "[c\($0 + 1):children]\nc\($0)\n[c\($0):vars]\nansible_user=u\($0)\n" }.joined()
        ini += (0..<count).map { "[c0:children]\nu\($0)\n[u\($0)]\nh\($0) ansible_host=10.\($0 / 62500).\($0 / 250 % 250).\($0 % 250 + 1)\n" }.joined()
        let clock = ContinuousClock()
        var clusters: [InventoryCluster] = []
        let took = try clock.measure { clusters = try AnsibleINI.parse(ini).clusters(forcedCluster: "deep", now: Date()) }
        print("\(count) hosts below \(depth) levels of groups: \(took)")
        #expect(clusters.first?.nodes.count == count)
        #expect(clusters.first?.nodes.allSatisfy { $0.sshUser == "u0" } == true, "the deepest group's variable wins")
        #expect(took < .seconds(20))
    }

    /// Ansible's order: parents before children (by depth from the top), then by name; a loop of
    /// groups is refused, as Ansible refuses it.
    @Test func groupVariablesFollowAnsiblesOrderAndLoopsAreRefused() throws {
        let ini = """
            [all:vars]
            caulk_api_endpoint=https://10.9.9.9:6443
            ansible_user=from-all
            [top:children]
            alpha
            [alpha:vars]
            ansible_user=from-alpha
            ansible_port=2201
            [beta:vars]
            ansible_port=2202
            [alpha]
            h1 ansible_host=10.0.0.1
            [beta]
            h1
            h2 ansible_host=10.0.0.2
            [top:vars]
            ansible_user=from-top
            ansible_port=2200
            """
        let nodes = try AnsibleINI.parse(ini).clusters(forcedCluster: "c", now: Date())[0].nodes
        // h1: alpha (under top) is deeper than beta, so alpha wins both; h2 only has beta and all.
        #expect(nodes.map(\.name) == ["h1", "h2"])
        #expect(nodes.map { [$0.sshUser ?? "-", $0.sshPort.map(String.init) ?? "-"] } == [["from-alpha", "2201"], ["-", "2202"]], "h2 keeps the cluster's user (from all)")
        // Same depth: the group named later wins, as in Ansible.
        let sameDepth = "[all:vars]\ncaulk_api_endpoint=https://10.9.9.9:6443\n[b:vars]\nansible_port=2202\n[a:vars]\nansible_port=2201\n[a]\nh1\n[b]\nh1\n"
        #expect(try AnsibleINI.parse(sameDepth).clusters(forcedCluster: "c", now: Date())[0].nodes[0].sshPort == 2202)

        let loop = "[a:children]\nb\n[b:children]\na\n[a]\nh1 ansible_host=10.0.0.1\n"
        #expect(throws: DomainError.invalidInventory(line: 1, field: "group a", message: "is in or below a loop of groups (a group that is its own child, or its children's); Ansible refuses such loops too")) {
            try AnsibleINI.parse(loop).clusters(forcedCluster: nil, now: Date())
        }
    }

    /// The YAML formats hold at most as many hosts as an INI file.
    @Test func yamlInventoriesAreBoundedLikeINI() throws {
        let hosts = (0...AnsibleINI.maxHosts).map { "    h\($0):" }.joined(separator: "\n")
        #expect(throws: DomainError.invalidInventory(line: 50_003, field: "c.hosts.h50000", message: "the inventory holds more than 50000 hosts; split it into several imports")) {
            try InventoryImport.parse("c:\n  hosts:\n" + hosts + "\n", format: .ansibleYaml, cluster: nil, now: Date())
        }
    }

    @Test func hostRangesExpand() throws {
        let parsed = try AnsibleINI.parse("[c1]\nnode[01:03] ansible_user=core\nweb-[a:b]\n")
        #expect(parsed.hostOrder == ["node01", "node02", "node03", "web-a", "web-b"])
        #expect(parsed.hosts["node02"]?.vars["ansible_user"] == "core")
    }

    @Test func aDryRunChangesNothing() async throws {
        let result = try await inventory.importInventory(Self.caulkYAML, format: .auto, dryRun: true, by: "test")
        #expect(result.dryRun && result.nodes.created == 4)
        #expect(try await inventory.clusters().items.isEmpty)
    }

    @Test func reimportKeepsAPinnedKeyTheFileDoesNotMention() async throws {
        _ = try await inventory.importInventory(Self.caulkYAML, format: .auto, dryRun: false, by: "test")
        let withoutKeys = Self.caulkYAML.split(separator: "\n").filter { !$0.contains("host_key") }.joined(separator: "\n")
        #expect(try await inventory.importInventory(withoutKeys, format: .auto, dryRun: false, by: "test").changed == false)
        #expect(try await inventory.node(cluster: "prod-a", name: "cp1").hostKey != nil)
    }
}

/// Everything an import sets, one line per cluster and node, in a comparable form.
struct Snapshot {
    let inventory: InventoryService

    func take() async throws -> [String] {
        let clusters = try await inventory.clusters().items.map {
            "\($0.name) \($0.apiEndpoint) \($0.podCidr ?? "-") \($0.encapsulation) \($0.ssh.user) \($0.ssh.port) \($0.ssh.key ?? "-") \($0.nodeCount)"
        }
        let nodes = try await inventory.nodes().items.map {
            "\($0.cluster)/\($0.name) \($0.address) \($0.role) \($0.labels) \($0.ssh.port.map(String.init) ?? "-") \($0.hostKey ?? "-")"
        }
        return clusters + nodes
    }
}
