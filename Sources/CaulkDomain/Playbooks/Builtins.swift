/// The checks caulk implements itself, for the Calico VXLAN failure modes (docs/failure-modes.md).
/// A playbook names them under `builtin:`; the loader refuses a name that is not here, and a check
/// whose steps the playbook lacks.
public enum BuiltinCheck: String, CaseIterable, Sendable {
    case vxlanDevice = "vxlan-device"
    case checksumOffload = "checksum-offload"
    case vxlanPeers = "vxlan-peers"
    case firewallVXLANPort = "firewall-vxlan-port"
    case vxlanMTU = "vxlan-mtu"
    case networkManagerUnmanaged = "networkmanager-unmanaged"
    case rpFilter = "rp-filter"
    case offloadRisk = "offload-risk"
    case datapath
    case calicoPods = "calico-pods"

    /// The steps it reads, by name.
    var requiredSteps: [String] {
        switch self {
        case .vxlanDevice: ["links"]
        case .checksumOffload: ["links", "offload", "nic-driver"]
        case .vxlanPeers: ["links", "routes", "fdb", "neighbours", "k8s-nodes"]
        case .firewallVXLANPort: ["firewalld", "nftables"]
        case .vxlanMTU: ["links"]
        case .networkManagerUnmanaged: ["networkmanager", "nm-calico-conf"]
        case .rpFilter: ["rp-filter"]
        case .offloadRisk: ["calico-node-ds", "felixconfiguration", "kernel", "nic-driver"]
        case .datapath: ["probe"]
        case .calicoPods: ["calico-pods", "kube-controllers", "kube-controllers-log"]
        }
    }

    /// Runs once every node is done (it compares nodes); the others run on each node.
    var isClusterWide: Bool {
        switch self {
        case .offloadRisk, .datapath, .calicoPods: true
        case .vxlanDevice, .checksumOffload, .vxlanPeers, .firewallVXLANPort, .vxlanMTU, .networkManagerUnmanaged, .rpFilter: false
        }
    }

    /// Means nothing on an IP-in-IP or unencapsulated cluster.
    var isVXLANOnly: Bool {
        switch self {
        case .vxlanDevice, .checksumOffload, .vxlanPeers, .vxlanMTU: true
        case .firewallVXLANPort, .networkManagerUnmanaged, .rpFilter, .offloadRisk, .datapath, .calicoPods: false
        }
    }
}

/// The steps whose command caulk builds itself.
public enum BuiltinStep: String, CaseIterable, Sendable {
    /// TCP connects to a few peers' pod addresses through the overlay (docs/failure-modes.md).
    case datapathProbe = "datapath-probe"
}
