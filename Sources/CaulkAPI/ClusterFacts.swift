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
    public var nodes: [String: Node] = [:]
    /// calico-node pod per node name.
    public var calicoPods: [String: Pod] = [:]
    /// Addresses of running probe pods (`probe_selector`) per node name.
    public var probePods: [String: [String]] = [:]

    /// VXLAN is in use when any IPPool says so; unknown when kubectl gave no pools.
    public var usesVXLAN: Bool? {
        guard let vxlanMode else { return nil }
        return vxlanMode != "Never"
    }

    public init() {}

    public var offloadOverridden: Bool {
        featureDetectOverride?.contains("ChecksumOffloadBroken=true") ?? false
    }
}
