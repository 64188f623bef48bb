import ArgumentParser
import CaulkAPI
import Foundation

struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Import clusters and nodes from an inventory file.",
        subcommands: [Import.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a caulk (YAML/JSON) or Ansible (INI/YAML) inventory (admin).",
            discussion: """
                All or nothing: a file with any error is refused, naming the line and field,
                and nothing changes. Importing the same file twice changes nothing the second
                time. Clusters and nodes not in the file are left alone. The README's
                "Inventory files" section documents both formats and how Ansible groups map to
                clusters.
                """
        )
        @OptionGroup var options: ClientOptions
        @Argument(help: "Inventory file, or - for standard input.") var file: String
        @Option(help: "auto, caulk, ansible-ini or ansible-yaml (default: from the extension, else detected).") var format: InventoryFormat?
        @Option(help: "Ansible only: put every host of the file in this cluster.") var cluster: String?
        @Flag(help: "Show what would change without changing anything.") var dryRun = false

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw CLIError.usage("cannot read \(file)")
                }
                data = contents
            }
            var query = [("format", (format ?? Self.format(forExtensionOf: file)).rawValue)]
            if let cluster { query.append(("cluster", cluster)) }
            if dryRun { query.append(("dry_run", "true")) }
            let result = try await options.client().post(
                "/v1/inventory/import", query: query, raw: data, contentType: "text/plain; charset=utf-8", as: ImportResult.self)
            try options.out.emit(result) { result in
                [[result.message]]
            }
        }

        static func format(forExtensionOf file: String) -> InventoryFormat {
            switch URL(fileURLWithPath: file).pathExtension.lowercased() {
            case "ini", "cfg": .ansibleIni
            default: .auto
            }
        }
    }
}
