import CaulkAPI
import CaulkStore
import Foundation
import Yams

/// Reads an inventory file in any supported format into rows ready to write.
enum InventoryImport {
    static func parse(_ text: String, format requested: InventoryFormat, cluster: String?, now: Date)
        throws(DomainError) -> (InventoryFormat, [InventoryCluster])
    {
        if let cluster { _ = try Validate.name(cluster, field: "cluster") }
        var format = requested
        if format == .auto && looksLikeINI(text) { format = .ansibleIni }
        let clusters: [InventoryCluster]
        if format == .ansibleIni {
            clusters = try AnsibleINI.parse(text).clusters(forcedCluster: cluster, now: now)
        } else {
            guard let root = try YAMLValue.parse(text) else {
                throw .invalidInventory(line: nil, field: nil, message: "the file is empty")
            }
            if format == .auto {
                format = root.node["clusters"] != nil ? .caulk : .ansibleYaml
            }
            if format == .ansibleYaml {
                clusters = try AnsibleYAML.parse(root).clusters(forcedCluster: cluster, now: now)
            } else {
                if cluster != nil {
                    throw .invalid(field: "cluster", message: "applies to Ansible inventories only; a caulk inventory names its clusters")
                }
                clusters = try CaulkFormat.parse(root, now: now)
            }
        }
        guard !clusters.isEmpty else { throw .invalidInventory(line: nil, field: nil, message: "the file names no cluster") }
        return (format, clusters)
    }

    /// INI when the first meaningful line is a `[section]` header or a bare host line
    /// (`web1 ansible_host=…`), which YAML would read as one scalar.
    static func looksLikeINI(_ text: String) -> Bool {
        let lines = AnsibleINI.lines(text).lazy.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first(where: { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix(";") && $0 != "---" }) else {
            return false
        }
        if first.hasPrefix("[") { return first.hasSuffix("]") && !first.contains(",") && !first.contains("\"") }
        return !first.hasPrefix("{") && !first.contains(":")
    }
}
