import CaulkAPI
import CaulkStore
import Foundation
import Testing

@testable import CaulkDomain

@Suite struct PlaybookTests {
    @Test func theBuiltInPlaybooksLoad() throws {
        let library = try PlaybookLibrary()
        let audit = try library.playbook("calico-vxlan", kind: .audit)
        #expect(Set(audit.checks.map(\.id)).isSuperset(of: ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "DP"]))
        #expect(audit.steps(.oneControlPlane).allSatisfy { $0.command?.hasPrefix("kubectl --kubeconfig {{kubeconfig}}") == true })
        #expect(try library.playbook("boot-beacon", kind: .repair).steps.count == 3)
        #expect(throws: DomainError.self) { try library.playbook("boot-beacon", kind: .audit) }
        #expect(throws: DomainError.self) { try library.playbook("nope", kind: .audit) }
        let recover = try library.playbook("calico-recover", kind: .repair)
        #expect(recover.audit == "calico-vxlan" && !recover.repairs.isEmpty)
        // Every repair a finding can name exists, so a finding's repair is always something caulk can run.
        for check in audit.checks { if let repair = check.repair { #expect(library.playbooks[repair]?.kind == .repair, "\(check.id) → \(repair)") } }
        #expect(try library.playbook("ipip-fallback", kind: .repair).needsConfirmation)
        #expect(try library.playbook("rp-filter-loose", kind: .repair).optIn)
        #expect(try library.playbook("vxlan-reset", kind: .repair).disruptive)
    }

    static let minimal = """
        name: chrony
        kind: audit
        parameters:
          unit: {default: chronyd}
        steps:
          - name: active
            scope: each-node
            command: systemctl is-active {{unit}}
        checks:
          - id: TIME
            when: {step: active, exit: nonzero}
            severity: warning
            message: the time daemon is not running
        """

    /// Step names and check ids are checked for duplicates and references by lookup, not by
    /// scanning every step for every step and check.
    @Test func aPlaybookWithThousandsOfStepsAndChecksLoadsQuickly() throws {
        let count = 10_000
        let text = "name: big\nkind: audit\nsteps:\n"
            + (0..<count).map { "  - {name: s\($0), scope: each-node, command: \"true\"}\n" }.joined()
            + "checks:\n" + (0..<count).map { "  - {id: C\($0), when: {step: s\(count - 1 - $0), exit: nonzero}, message: m}\n" }.joined()
        let clock = ContinuousClock()
        var playbook: Playbook?
        let took = try clock.measure { playbook = try PlaybookLoader.parse(text, source: "big.yaml") }
        print("a playbook of \(count) steps and \(count) checks: \(took)")
        #expect(playbook?.steps.count == count && playbook?.checks.count == count)
        #expect(took < .seconds(8), "took \(took); scanning the steps for each step and check took 19 s in a debug build")
        #expect(throws: DomainError.invalidPlaybook(file: "big.yaml", line: count + 4, field: "steps[\(count)]", message: "step 's0' is given twice")) {
            try PlaybookLoader.parse(text.replacingOccurrences(of: "checks:\n", with: "  - {name: s0, scope: each-node, command: \"true\"}\nchecks:\n"), source: "big.yaml")
        }
    }

    /// Audits, repairs and the beacon fill placeholders from one builder: every value caulk sets
    /// is there for a node, the run's parameters come first and cannot shadow them.
    @Test func everyContextValueIsSetForANode() throws {
        let cluster = ClusterRecord(
            id: 1, name: "prod-a", apiEndpoint: "https://198.18.0.1:6443", podCidr: nil, encapsulation: .vxlan, calicoNamespace: .calicoSystem,
            sshUser: "root", sshPort: 22, sshKey: nil, bastion: nil, createdAt: Date(), updatedAt: Date())
        let node = NodeRecord(
            id: 2, clusterId: 1, name: "n1", address: "198.18.0.2", role: .worker, labels: [:], sshUser: nil, sshPort: nil, sshKey: nil,
            bastion: nil, hostKey: nil, createdAt: Date(), updatedAt: Date())
        var facts = ClusterFacts()
        facts.kubernetesNames = ["n1": "n1.dc.example"]
        let context = PlaybookContext(parameters: ["unit": "chronyd", "cluster": "spoofed"], cluster: cluster, facts: facts, controlPlane: "cp1", vxlanMTU: 1450)
        let values = context.values(node)
        #expect(ContextValue.names.isSubset(of: Set(values.keys)))
        #expect(values["cluster"] == "prod-a" && values["calico_namespace"] == "calico-system" && values["control_plane"] == "cp1")
        #expect(values["vxlan_mtu"] == "1450" && values["k8s_node"] == "n1.dc.example" && values["node_ip"] == "198.18.0.2" && values["unit"] == "chronyd")
        #expect(context.values(nil)["node"] == nil, "no node, no node values")
        #expect(CommandTemplate.contextParameters == ContextValue.names)
    }

    @Test func aCustomPlaybookWithARuleLoads() throws {
        let playbook = try PlaybookLoader.parse(Self.minimal, source: "chrony.yaml")
        #expect(playbook.steps[0].timeout == 30 && playbook.steps[0].output == .text)
        #expect(playbook.checks[0].rule == Playbook.Rule(step: "active", exit: .nonzero, stdoutMatches: nil, stdoutNotMatches: nil))
    }

    @Test(arguments: [
        ("name: x\nkind: audit\nstep: []\n", "chrony.yaml, line 3, step: unknown key 'step'"),
        (minimal.replacingOccurrences(of: "{{unit}}", with: "{{unti}}"), "{{unti}} is not a parameter of this playbook"),
        (minimal.replacingOccurrences(of: "scope: each-node", with: "scope: everywhere"), "line 7, steps[0].scope: 'everywhere' is not one of: each-node, one-control-plane, after-nodes"),
        (minimal.replacingOccurrences(of: "exit: nonzero", with: "exit: sometimes"), "checks[0].when.exit: expected zero, nonzero or an exit status"),
        (minimal.replacingOccurrences(of: "when: {step: active, exit: nonzero}", with: "builtin: vxlan-device"), "built-in check 'vxlan-device' reads step 'links', which this playbook does not have"),
        (minimal.replacingOccurrences(of: "command: systemctl is-active {{unit}}", with: "builtin: magic"), "unknown built-in step 'magic'"),
        (minimal.replacingOccurrences(of: "when: {step: active, exit: nonzero}", with: "builtin: vxlan-devise"), "unknown built-in check 'vxlan-devise'; expected one of: calico-pods, checksum-offload, datapath,"),
        (minimal.replacingOccurrences(of: "{{unit}}", with: "{{vxlan_mtu}}"), "{{vxlan_mtu}} is known only to repairs"),
        (minimal.replacingOccurrences(of: "kind: audit\n", with: ""), "'kind' is required"),
        ("", "chrony.yaml: the file is empty"),
        (minimal + "\ndisruptive: true\n", "'disruptive' applies to repair playbooks only"),
        (minimal.replacingOccurrences(of: "scope: each-node", with: "scope: each-node\n    on: control-plane"), "'on' applies to repair playbooks only"),
        (minimal.replacingOccurrences(of: "kind: audit", with: "kind: repair"), "checks belong in audit playbooks"),
        ("name: x\nkind: repair\nsteps:\n  - {name: a, scope: one-control-plane, on: control-plane, command: 'true'}\n", "'on: control-plane' is for each-node steps"),
        ("name: x\nkind: repair\nsteps:\n  - {name: a, scope: each-node, mutates: maybe, command: 'true'}\n", "mutates: expected true or false"),
        ("name: [", "not valid YAML: while parsing a flow node"),
    ])
    func badPlaybooksAreRefusedWithFileLineAndField(text: String, expected: String) {
        do {
            _ = try PlaybookLoader.parse(text, source: "chrony.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            guard case .invalidPlaybook(let file, _, _, _) = error else { Issue.record("\(error)"); return }
            #expect(file == "chrony.yaml")
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func commandParametersAreShellQuotedNeverPasted() {
        let rendered = CommandTemplate.render("kubectl get pods -l {{selector}} -n {{ns}}", ["selector": "a=b; rm -rf /", "ns": "it's"])
        #expect(rendered == "kubectl get pods -l 'a=b; rm -rf /' -n 'it'\\''s'")
        #expect(CommandTemplate.placeholders(in: "{{a}} x {{ b }} {{c") == ["a", "b"])
    }

    @Test func unknownParametersOfARequestAreRefused() throws {
        let playbook = try PlaybookLoader.parse(Self.minimal, source: "chrony.yaml")
        #expect(try AuditService.parameters(playbook, overrides: ["unit": "ntpd"]) == ["unit": "ntpd"])
        #expect(throws: DomainError.invalid(field: "parameters.units", message: "chrony has no such parameter; it has: unit")) {
            try AuditService.parameters(playbook, overrides: ["units": "x"])
        }
    }

    @Test func aRuleFiresOnItsNodeWithEvidence() throws {
        let playbook = try PlaybookLoader.parse(Self.minimal, source: "chrony.yaml")
        func findings(exit: Int, stdout: String) -> [Finding] {
            let context = CalicoChecks.NodeContext(
                node: "n1", nodeIP: "198.18.1.1", facts: NodeFacts(), steps: ["active": StepOutput(exitStatus: exit, stdout: stdout)],
                cluster: ClusterFacts())
            return AuditRunner.evaluate([playbook.checks[0]], context)
        }
        #expect(findings(exit: 0, stdout: "active\n").isEmpty)
        let fired = findings(exit: 3, stdout: "inactive\n")
        #expect(fired == [Finding(check: "TIME", severity: .warning, node: "n1", message: "the time daemon is not running", evidence: "exit 3\ninactive\n", repair: nil)])
    }

    @Test func aCompositeRepairMustNameKnownRepairsAndItsAudit() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "caulk-playbooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appending(path: "my-recover.yaml")
        try "name: my-recover\nkind: repair\naudit: calico-vxlan\nrepairs: [vxlan-reset, nope]\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: DomainError.invalidPlaybook(file: file.path, line: nil, field: "repairs", message: "'nope' is not a known repair playbook")) {
            try PlaybookLibrary(directories: [directory.path])
        }
        try "name: my-recover\nkind: repair\nrepairs: [vxlan-reset]\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: DomainError.invalidPlaybook(file: file.path, line: nil, field: "audit", message: "a repair that chooses repairs needs the audit whose findings it reads")) {
            try PlaybookLibrary(directories: [directory.path])
        }
        try "name: my-recover\nkind: repair\naudit: calico-vxlan\nrepairs: [firewall-open, vxlan-reset]\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try PlaybookLibrary(directories: [directory.path]).playbook("my-recover", kind: .repair).repairs == ["firewall-open", "vxlan-reset"])
    }
}
