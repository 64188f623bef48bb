import Foundation

/// What a node's own commands say, read from the `calico-vxlan` steps' output. Stored with the
/// audit (`audit_nodes.facts`), so reports can group by kernel, driver or offload state.
public struct NodeFacts: Codable, Sendable, Equatable {
    public struct VXLANDevice: Codable, Sendable, Equatable {
        public var up: Bool
        public var local: String?
        public var vni: Int?
        public var port: Int?
        public var mac: String?
        public var mtu: Int?

        public init(up: Bool, local: String?, vni: Int?, port: Int?, mac: String?, mtu: Int?) {
            self.up = up
            self.local = local
            self.vni = vni
            self.port = port
            self.mac = mac
            self.mtu = mtu
        }
    }

    public struct Probe: Codable, Sendable, Equatable {
        public var peer: String
        public var address: String
        public var port: Int
        public var icmp: Bool
        /// Connected, or refused by the peer (the packet crossed the overlay either way).
        public var tcp: Bool
        /// A don't-fragment ping of the sender's full VXLAN MTU came back; nil when the sender
        /// had no vxlan.calico to take the size from.
        public var fullSize: Bool?

        /// TCP crossed, and so did a full-size packet (when one could be sent).
        public var passed: Bool { tcp && fullSize != false }

        public init(peer: String, address: String, port: Int, icmp: Bool, tcp: Bool, fullSize: Bool? = nil) {
            self.peer = peer
            self.address = address
            self.port = port
            self.icmp = icmp
            self.tcp = tcp
            self.fullSize = fullSize
        }
    }

    public var bootId: String?
    public var uptimeSeconds: Double?
    public var kernel: String?
    /// `ID VERSION_ID` of /etc/os-release, such as `rhel 9.4`.
    public var os: String?
    public var nic: String?
    public var nicDriver: String?
    public var nicMtu: Int?
    /// nil when the device does not exist.
    public var vxlan: VXLANDevice?
    public var offload: String?
    public var routes: Int?
    public var fdbEntries: Int?
    public var neighbours: Int?
    public var firewalld: String?
    public var networkManager: String?
    public var rpFilter: [String: Int]?
    public var probes: [Probe]?

    public init() {}
}
