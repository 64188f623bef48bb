import Foundation
import PackagePlugin

/// Embeds repository files into the target that uses this plugin, as `enum Embedded`.
///
/// Which files go where is this table: the files stay where people look for them
/// (`Migrations/`, `config/`), and the binary carries them.
@main
struct EmbedFiles: BuildToolPlugin {
    static let sources: [String: [String]] = [
        "CaulkStore": ["Migrations"],
        "CaulkDomain": ["config/playbooks"],
        "CaulkServer": ["config/caulk.yaml", "config/openapi.yaml"],
    ]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let entries = Self.sources[target.name] else { return [] }
        let root = context.package.directoryURL
        var inputs: [URL] = []
        for entry in entries {
            let url = root.appending(path: entry)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw PluginError("\(entry) is missing")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: url.path)
                inputs += names.filter { !$0.hasPrefix(".") }.sorted().map { url.appending(path: $0) }
            } else {
                inputs.append(url)
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "Embedded.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) files into \(target.name)",
                executable: try context.tool(named: "caulk-embed").url,
                arguments: [output.path, "Embedded"] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
