import Foundation
import Testing

@testable import CaulkDomain

/// A step's `stdin`: how a secret reaches a node without being on a command line.
@Suite struct SecretInputTests {
    @Test func theBeaconTokenTravelsOnStandardInputNeverInACommand() throws {
        let beacon = try PlaybookLibrary().playbook("boot-beacon", kind: .repair)
        for step in beacon.steps { #expect(!(step.command ?? "").contains("{{token}}"), "\(step.name) puts the token on a command line") }
        let settings = try #require(beacon.steps.first { $0.stdin != nil })
        #expect(settings.stdin == "{{token}}")
        let token = "caulk_abc'$(x)"
        #expect(CommandTemplate.render(settings.stdin!, ["token": token], quoted: false) == token, "standard input carries the value as it is")
        #expect(CommandTemplate.render("echo {{token}}", ["token": token]) == "echo 'caulk_abc'\\''$(x)'", "commands quote it")
    }

    @Test func stdinIsForRepairStepsAndOnlyWithDeclaredParameters() throws {
        let repair = """
            name: put-secret
            kind: repair
            parameters:
              secret: {description: a secret}
            steps:
              - name: write
                scope: each-node
                stdin: "{{secret}}"
                command: cat > /etc/secret
            """
        #expect(try PlaybookLoader.parse(repair, source: "put.yaml").steps[0].stdin == "{{secret}}")
        let undeclared = repair.replacingOccurrences(of: "stdin: \"{{secret}}\"", with: "stdin: \"{{other}}\"")
        #expect(throws: DomainError.self) { try PlaybookLoader.parse(undeclared, source: "put.yaml") }
        let audit = repair.replacingOccurrences(of: "kind: repair", with: "kind: audit")
        do {
            _ = try PlaybookLoader.parse(audit, source: "put.yaml")
            Issue.record("an audit step with stdin was accepted")
        } catch {
            #expect("\(error)".contains("'stdin' applies to repair playbooks only"), "\(error)")
        }
    }
}
