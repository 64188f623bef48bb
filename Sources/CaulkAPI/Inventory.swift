import Foundation

/// Expected pod-network encapsulation of a cluster.
public enum Encapsulation: String, Codable, Sendable, CaseIterable {
    case vxlan, ipip, none
}

/// Namespace Calico runs in: `kube-system` for manifest installs, `calico-system` for the operator.
public enum CalicoNamespace: String, Codable, Sendable, CaseIterable {
    case kubeSystem = "kube-system"
    case calicoSystem = "calico-system"
}

public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case controlPlane = "control-plane"
    case worker
}

/// How to reach a cluster's nodes over SSH unless a node says otherwise.
public struct SSHDefaults: Codable, Sendable, Equatable {
    public var user: String
    public var port: Int
    /// Path of the private key file on the caulk server.
    public var key: String?
    /// Jump host as `[user@]host[:port]`.
    public var bastion: String?
    /// Run every command as this user through `sudo -n` (Ansible's become), for fleets that
    /// forbid root logins; nil: as `user`.
    public var become: String?

    public init(user: String = "root", port: Int = 22, key: String? = nil, bastion: String? = nil, become: String? = nil) {
        self.user = user
        self.port = port
        self.key = key
        self.bastion = bastion
        self.become = become
    }
}

/// Per-node overrides of the cluster's SSH defaults.
public struct SSHOverrides: Codable, Sendable, Equatable {
    public var user: String?
    public var port: Int?
    public var key: String?
    public var bastion: String?
    public var become: String?

    public init(user: String? = nil, port: Int? = nil, key: String? = nil, bastion: String? = nil, become: String? = nil) {
        self.user = user
        self.port = port
        self.key = key
        self.bastion = bastion
        self.become = become
    }

    public var isEmpty: Bool { user == nil && port == nil && key == nil && bastion == nil && become == nil }
}

public struct Cluster: Codable, Sendable, Equatable {
    public var name: String
    public var apiEndpoint: String
    public var podCidr: String?
    public var encapsulation: Encapsulation
    public var calicoNamespace: CalicoNamespace
    public var ssh: SSHDefaults
    public var nodeCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        name: String, apiEndpoint: String, podCidr: String?, encapsulation: Encapsulation,
        calicoNamespace: CalicoNamespace, ssh: SSHDefaults, nodeCount: Int, createdAt: Date, updatedAt: Date
    ) {
        self.name = name
        self.apiEndpoint = apiEndpoint
        self.podCidr = podCidr
        self.encapsulation = encapsulation
        self.calicoNamespace = calicoNamespace
        self.ssh = ssh
        self.nodeCount = nodeCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Body of `POST /v1/clusters` and, with every field optional, of `PATCH /v1/clusters/{name}`.
/// In a patch, an empty string clears an optional field.
public struct ClusterInput: Codable, Sendable, Equatable {
    public var name: String?
    public var apiEndpoint: String?
    public var podCidr: String?
    public var encapsulation: Encapsulation?
    public var calicoNamespace: CalicoNamespace?
    public var ssh: SSHOverrides?

    public init(
        name: String? = nil, apiEndpoint: String? = nil, podCidr: String? = nil, encapsulation: Encapsulation? = nil,
        calicoNamespace: CalicoNamespace? = nil, ssh: SSHOverrides? = nil
    ) {
        self.name = name
        self.apiEndpoint = apiEndpoint
        self.podCidr = podCidr
        self.encapsulation = encapsulation
        self.calicoNamespace = calicoNamespace
        self.ssh = ssh
    }
}

public struct Node: Codable, Sendable, Equatable {
    public var cluster: String
    public var name: String
    public var address: String
    public var role: NodeRole
    public var labels: [String: String]
    public var ssh: SSHOverrides
    /// Pinned host key fingerprint, `SHA256:…`.
    public var hostKey: String?
    public var lastBootId: String?
    public var lastSeenAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        cluster: String, name: String, address: String, role: NodeRole, labels: [String: String], ssh: SSHOverrides,
        hostKey: String?, lastBootId: String?, lastSeenAt: Date?, createdAt: Date, updatedAt: Date
    ) {
        self.cluster = cluster
        self.name = name
        self.address = address
        self.role = role
        self.labels = labels
        self.ssh = ssh
        self.hostKey = hostKey
        self.lastBootId = lastBootId
        self.lastSeenAt = lastSeenAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Body of `POST /v1/nodes` and, with every field optional, of `PATCH /v1/nodes/{cluster}/{node}`.
/// In a patch, an empty string clears an optional field and `labels` replaces the whole set.
public struct NodeInput: Codable, Sendable, Equatable {
    public var cluster: String?
    public var name: String?
    public var address: String?
    public var role: NodeRole?
    public var labels: [String: String]?
    public var ssh: SSHOverrides?
    public var hostKey: String?

    public init(
        cluster: String? = nil, name: String? = nil, address: String? = nil, role: NodeRole? = nil,
        labels: [String: String]? = nil, ssh: SSHOverrides? = nil, hostKey: String? = nil
    ) {
        self.cluster = cluster
        self.name = name
        self.address = address
        self.role = role
        self.labels = labels
        self.ssh = ssh
        self.hostKey = hostKey
    }
}
