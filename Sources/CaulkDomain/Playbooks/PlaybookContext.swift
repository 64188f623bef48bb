import CaulkAPI
import CaulkStore

/// The names caulk fills in for every playbook command, beside the playbook's own parameters (a
/// playbook may not declare one of these).
enum ContextValue: String, CaseIterable {
    /// The cluster's name in the inventory.
    case cluster
    /// Where calico-node runs: `kube-system` (manifest installs) or `calico-system` (the operator).
    case calicoNamespace = "calico_namespace"
    /// The inventory name of the control-plane node kubectl runs on.
    case controlPlane = "control_plane"
    /// The smallest NIC MTU the audit before a repair saw, minus 50. Repairs only: an audit has not
    /// read the NICs yet when its commands run, and the loader refuses it in audit playbooks.
    case vxlanMTU = "vxlan_mtu"
    /// The node's name in the inventory.
    case node
    /// The node's Kubernetes Node name as the audit matched it (empty when it matched none).
    case k8sNode = "k8s_node"
    /// The node's InternalIP as Kubernetes reports it, else its inventory address.
    case nodeIP = "node_ip"

    static let names = Set(allCases.map(\.rawValue))
}

/// The values `{{name}}` placeholders are filled from. Audits, repairs and the beacon all build
/// them here, so each name means the same in every playbook: the run's parameters first, then
/// the values caulk sets (`ContextValue`), the node's only when there is a node.
struct PlaybookContext: Sendable {
    var parameters: [String: String]
    let cluster: ClusterRecord
    /// kubectl's view of the cluster, once read: the nodes' Kubernetes names and InternalIPs.
    var facts: ClusterFacts?
    var controlPlane: String?
    var vxlanMTU: Int?

    init(parameters: [String: String], cluster: ClusterRecord, facts: ClusterFacts? = nil, controlPlane: String? = nil, vxlanMTU: Int? = nil) {
        self.parameters = parameters
        self.cluster = cluster
        self.facts = facts
        self.controlPlane = controlPlane
        self.vxlanMTU = vxlanMTU
    }

    func values(_ node: NodeRecord?) -> [String: String] {
        var values = parameters
        func set(_ name: ContextValue, _ value: String) { values[name.rawValue] = value }
        set(.cluster, cluster.name)
        set(.calicoNamespace, cluster.calicoNamespace.rawValue)
        set(.controlPlane, controlPlane ?? "")
        set(.vxlanMTU, vxlanMTU.map(String.init) ?? "")
        if let node {
            set(.node, node.name)
            set(.k8sNode, facts?.kubernetesName(of: node.name) ?? "")
            set(.nodeIP, facts?.node(node.name)?.internalIp ?? node.address)
        }
        return values
    }
}
