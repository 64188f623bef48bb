import CaulkAPI
import CaulkStore
import Foundation

/// caulk's own inventory format, YAML or JSON:
///
/// ```yaml
/// clusters:
///   - name: prod-a
///     api_endpoint: https://198.18.0.10:6443
///     pod_cidr: 198.19.0.0/16
///     encapsulation: vxlan            # vxlan | ipip | none
///     calico_namespace: kube-system   # kube-system | calico-system
///     ssh: {user: root, port: 22, key: /etc/caulk/id_ed25519, bastion: jump@198.18.0.2:22}
///     # or, where root may not log in: {user: caulk, become: root, …} runs commands via `sudo -n`
///     nodes:
///       - name: cp1
///         address: 198.18.0.10
///         role: control-plane         # control-plane | worker
///         labels: {zone: a}
///         host_key: SHA256:…           # or a known_hosts line / public key
///         ssh: {port: 2222}           # per-node overrides
/// ```
enum CaulkFormat {
    static let clusterKeys: Set<String> = ["name", "api_endpoint", "pod_cidr", "encapsulation", "calico_namespace", "ssh", "nodes"]
    static let nodeKeys: Set<String> = ["name", "address", "role", "labels", "ssh", "host_key"]
    static let sshKeys: Set<String> = ["user", "port", "key", "bastion", "become"]

    static func parse(_ root: YAMLValue, now: Date) throws(DomainError) -> [InventoryCluster] {
        var clustersValue: YAMLValue?
        for (key, value) in try root.mapping(allowed: ["clusters", "version"]) {
            if key == "version", try value.string() != "1" { throw value.fail("only version 1 is known") }
            if key == "clusters" { clustersValue = value }
        }
        guard let clustersValue else { throw root.fail("a caulk inventory has a top-level 'clusters:' list") }
        var seen: [String: Int] = [:]
        var result: [InventoryCluster] = []
        var nodes = 0
        for clusterValue in try clustersValue.sequence() {
            let item = try cluster(clusterValue, now: now)
            nodes += item.nodes.count
            guard nodes <= AnsibleINI.maxHosts else {
                throw clusterValue.fail("the inventory holds more than \(AnsibleINI.maxHosts) nodes; split it into several imports")
            }
            if let first = seen[item.cluster.name] {
                throw clusterValue.fail("cluster \(item.cluster.name) is already defined at line \(first)")
            }
            seen[item.cluster.name] = clusterValue.line ?? 0
            result.append(item)
        }
        return result
    }

    private static func cluster(_ value: YAMLValue, now: Date) throws(DomainError) -> InventoryCluster {
        var input = ClusterInput()
        var nodeValues: [YAMLValue] = []
        var fieldLines: [String: YAMLValue] = [:]
        for (key, field) in try value.mapping(allowed: clusterKeys) {
            fieldLines[key] = field
            switch key {
            case "name": input.name = try field.string()
            case "api_endpoint": input.apiEndpoint = try field.string()
            case "pod_cidr": input.podCidr = field.isNull ? nil : try field.string()
            case "encapsulation": input.encapsulation = try enumValue(field)
            case "calico_namespace": input.calicoNamespace = try enumValue(field)
            case "ssh": input.ssh = try ssh(field)
            case "nodes": nodeValues = try field.sequence()
            default: break
            }
        }
        let record: ClusterRecord
        do {
            record = try InventoryRules.cluster(input, over: nil, now: now)
        } catch {
            throw located(error, in: value, fields: fieldLines)
        }
        var nodes: [NodeRecord] = []
        var seen: [String: Int] = [:]
        for nodeValue in nodeValues {
            let node = try node(nodeValue, now: now)
            if let first = seen[node.name] {
                throw nodeValue.fail("node \(node.name) is already defined in cluster \(record.name) at line \(first)")
            }
            seen[node.name] = nodeValue.line ?? 0
            nodes.append(node)
        }
        return InventoryCluster(cluster: record, nodes: nodes)
    }

    private static func node(_ value: YAMLValue, now: Date) throws(DomainError) -> NodeRecord {
        var input = NodeInput()
        var fieldLines: [String: YAMLValue] = [:]
        for (key, field) in try value.mapping(allowed: nodeKeys) {
            fieldLines[key] = field
            switch key {
            case "name": input.name = try field.string()
            case "address": input.address = try field.string()
            case "role": input.role = try enumValue(field)
            case "labels": input.labels = try field.stringMap()
            case "ssh": input.ssh = try ssh(field)
            case "host_key": input.hostKey = field.isNull ? nil : try field.string()
            default: break
            }
        }
        do {
            return try InventoryRules.node(input, clusterId: 0, over: nil, now: now)
        } catch {
            throw located(error, in: value, fields: fieldLines)
        }
    }

    private static func ssh(_ value: YAMLValue) throws(DomainError) -> SSHOverrides {
        var ssh = SSHOverrides()
        for (key, field) in try value.mapping(allowed: sshKeys) where !field.isNull {
            switch key {
            case "user": ssh.user = try field.string()
            case "port": ssh.port = try field.int()
            case "key": ssh.key = try field.string()
            case "bastion": ssh.bastion = try field.string()
            case "become": ssh.become = try field.string()
            default: break
            }
        }
        return ssh
    }

    private static func enumValue<T: RawRepresentable & CaseIterable>(_ value: YAMLValue) throws(DomainError) -> T where T.RawValue == String {
        let text = try value.string()
        guard let result = T(rawValue: text) else {
            throw value.fail("'\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return result
    }

    /// Points a validation error at the line of the field it is about.
    private static func located(_ error: DomainError, in value: YAMLValue, fields: [String: YAMLValue]) -> DomainError {
        guard case .invalid(let field, _) = error else { return error }
        let top = String(field.prefix { $0 != "." })
        let line = fields[top]?.line ?? value.line
        return error.nested(under: value.path + ".", line: line)
    }
}
