import ArgumentParser
import CaulkAPI
import Foundation

struct PlaybooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playbooks",
        abstract: "Playbooks the service can run: built-in and the operator's own (playbook_dirs)."
    )
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let playbooks = try await options.client().get("/v1/playbooks", as: [PlaybookInfo].self)
        try options.out.emit(playbooks) { playbooks in
            [["NAME", "KIND", "STEPS", "CHECKS/REPAIRS", "TRAITS", "SOURCE", "DESCRIPTION"]]
                + playbooks.map {
                    [$0.name, $0.kind, String($0.steps.count), ($0.checks + $0.repairs).joined(separator: ","), $0.traits.joined(separator: ","), $0.source,
                     String($0.description.prefix(60))]
                }
        }
    }
}
