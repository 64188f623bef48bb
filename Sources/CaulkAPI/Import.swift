/// Inventory file formats `caulk inventory import` understands.
public enum InventoryFormat: String, Codable, Sendable, CaseIterable {
    /// Detect from the content.
    case auto
    /// caulk's own YAML or JSON (`clusters:` at the top).
    case caulk
    /// Ansible INI inventory.
    case ansibleIni = "ansible-ini"
    /// Ansible YAML inventory (`all:` at the top).
    case ansibleYaml = "ansible-yaml"
}

public struct ChangeCounts: Codable, Sendable, Equatable {
    public var created: Int
    public var updated: Int
    public var unchanged: Int

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }

    public var changed: Bool { created + updated > 0 }
}

/// Outcome of an import: what was (or, in a dry run, would be) created and updated.
public struct ImportResult: Codable, Sendable, Equatable {
    public var format: InventoryFormat
    public var dryRun: Bool
    public var clusters: ChangeCounts
    public var nodes: ChangeCounts
    public var message: String

    public init(format: InventoryFormat, dryRun: Bool, clusters: ChangeCounts, nodes: ChangeCounts, message: String) {
        self.format = format
        self.dryRun = dryRun
        self.clusters = clusters
        self.nodes = nodes
        self.message = message
    }

    public var changed: Bool { clusters.changed || nodes.changed }
}
