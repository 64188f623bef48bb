import Foundation

/// What `kubectl` on a control-plane node says about the cluster: Calico's version and settings,
/// each Node's VXLAN annotations, calico-node pods, and the addresses the datapath probe uses.
public struct ClusterFacts: Codable, Sendable, Equatable {
    public struct Node: Codable, Sendable, Equatable {
        public var internalIp: String?
        public var vtep: String?
        public var vxlanMac: String?
        public var kernel: String?
        public var bootId: String?

        public init(internalIp: String?, vtep: String?, vxlanMac: String?, kernel: String?, bootId: String?) {
            self.internalIp = internalIp
            self.vtep = vtep
            self.vxlanMac = vxlanMac
            self.kernel = kernel
            self.bootId = bootId
        }
    }

    public struct Pod: Codable, Sendable, Equatable {
        public var name: String
        public var ready: Bool
        public var restarts: Int

        public init(name: String, ready: Bool, restarts: Int) {
            self.name = name
            self.ready = ready
            self.restarts = restarts
        }
    }

    /// The control-plane node kubectl ran on.
    public var controlPlane: String?
    /// Why the facts are missing or partial.
    public var errors: [String] = []
    public var calicoVersion: String?
    public var vxlanMode: String?
    public var ipipMode: String?
    public var featureDetectOverride: String?
    public var vxlanVni: Int?
    public var vxlanPort: Int?
    public var kubeControllersReady: Bool?
    public var kubeControllersLog: [String] = []
    /// Kubernetes Nodes by their Kubernetes name, which is often not the inventory's.
    public var nodes: [String: Node] = [:]
    /// calico-node pod per Kubernetes Node name.
    public var calicoPods: [String: Pod] = [:]
    /// Addresses of running probe pods (`probe_selector`) per Kubernetes Node name.
    public var probePods: [String: [String]] = [:]
    /// Inventory node name → the Kubernetes Node the audit matched it to (by InternalIP, then
    /// by name or short name). A node missing here has no known Kubernetes identity.
    public var kubernetesNames: [String: String]?

    /// VXLAN is in use when any IPPool says so; unknown when kubectl gave no pools.
    public var usesVXLAN: Bool? {
        guard let vxlanMode else { return nil }
        return vxlanMode != "Never"
    }

    /// The encapsulation the IP pools say is in use: VXLAN when any pool uses it, else IP-in-IP
    /// when any pool uses that, else none; nil when kubectl gave no pools.
    public var encapsulationInUse: Encapsulation? {
        guard let vxlanMode else { return nil }
        if vxlanMode != "Never" { return .vxlan }
        if let ipipMode, ipipMode != "Never" { return .ipip }
        return Encapsulation.none
    }

    public init() {}

    /// The Kubernetes Node name of an inventory node, when the audit matched one.
    public func kubernetesName(of node: String) -> String? { kubernetesNames?[node] }

    /// The Kubernetes Node of an inventory node.
    public func node(_ inventoryName: String) -> Node? { kubernetesName(of: inventoryName).flatMap { nodes[$0] } }

    /// The calico-node pod on an inventory node.
    public func calicoPod(on inventoryName: String) -> Pod? { kubernetesName(of: inventoryName).flatMap { calicoPods[$0] } }

    /// Probe pod addresses on an inventory node.
    public func probePods(on inventoryName: String) -> [String] { kubernetesName(of: inventoryName).flatMap { probePods[$0] } ?? [] }

    public var offloadOverridden: Bool {
        featureDetectOverride?.contains("ChecksumOffloadBroken=true") ?? false
    }
}
