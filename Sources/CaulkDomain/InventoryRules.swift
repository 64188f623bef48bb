import CaulkAPI
import CaulkStore
import Foundation

/// The one place where inputs become rows and rows become API values. The REST API and every
/// import format go through here, so a value accepted by one is accepted by all.
enum InventoryRules {
    /// Optional string fields: nil leaves the value as is, "" clears it.
    private static func optional(
        _ input: String?, current: String?, validate: (String) throws(DomainError) -> String
    ) throws(DomainError) -> String? {
        guard let input else { return current }
        return input.isEmpty ? nil : try validate(input)
    }

    /// Applies `input` on top of `base` (a new cluster when nil), validating every field given.
    static func cluster(_ input: ClusterInput, over base: ClusterRecord?, now: Date) throws(DomainError) -> ClusterRecord {
        guard let name = input.name ?? base?.name else { throw .invalid(field: "name", message: "is required") }
        guard let endpoint = input.apiEndpoint ?? base?.apiEndpoint else {
            throw .invalid(field: "api_endpoint", message: "is required, e.g. https://198.18.0.10:6443")
        }
        let ssh = input.ssh ?? SSHOverrides()
        return ClusterRecord(
            id: base?.id,
            name: try Validate.name(name, field: "name"),
            apiEndpoint: try Validate.apiEndpoint(endpoint, field: "api_endpoint"),
            podCidr: try optional(input.podCidr, current: base?.podCidr) { v throws(DomainError) in try Validate.cidr(v, field: "pod_cidr") },
            encapsulation: input.encapsulation ?? base?.encapsulation ?? .vxlan,
            calicoNamespace: input.calicoNamespace ?? base?.calicoNamespace ?? .kubeSystem,
            sshUser: try Validate.user(ssh.user ?? base?.sshUser ?? "root", field: "ssh.user"),
            sshPort: try Validate.port(ssh.port ?? base?.sshPort ?? 22, field: "ssh.port"),
            sshKey: try optional(ssh.key, current: base?.sshKey) { v throws(DomainError) in try Validate.path(v, field: "ssh.key") },
            bastion: try optional(ssh.bastion, current: base?.bastion) { v throws(DomainError) in try Validate.bastion(v, field: "ssh.bastion") },
            sshBecome: try optional(ssh.become, current: base?.sshBecome) { v throws(DomainError) in try Validate.user(v, field: "ssh.become") },
            createdAt: base?.createdAt ?? now,
            updatedAt: now
        )
    }

    /// Applies `input` on top of `base` (a new node of `clusterId` when nil).
    static func node(_ input: NodeInput, clusterId: Int64, over base: NodeRecord?, now: Date) throws(DomainError) -> NodeRecord {
        guard let name = input.name ?? base?.name else { throw .invalid(field: "name", message: "is required") }
        guard let address = input.address ?? base?.address else { throw .invalid(field: "address", message: "is required") }
        let ssh = input.ssh ?? SSHOverrides()
        return NodeRecord(
            id: base?.id,
            clusterId: clusterId,
            name: try Validate.name(name, field: "name"),
            address: try Validate.address(address, field: "address"),
            role: input.role ?? base?.role ?? .worker,
            labels: try Validate.labels(input.labels ?? base?.labels ?? [:], field: "labels"),
            sshUser: try optional(ssh.user, current: base?.sshUser) { v throws(DomainError) in try Validate.user(v, field: "ssh.user") },
            sshPort: try ssh.port.map { v throws(DomainError) in try Validate.port(v, field: "ssh.port") } ?? base?.sshPort,
            sshKey: try optional(ssh.key, current: base?.sshKey) { v throws(DomainError) in try Validate.path(v, field: "ssh.key") },
            bastion: try optional(ssh.bastion, current: base?.bastion) { v throws(DomainError) in try Validate.bastion(v, field: "ssh.bastion") },
            sshBecome: try optional(ssh.become, current: base?.sshBecome) { v throws(DomainError) in try Validate.user(v, field: "ssh.become") },
            hostKey: try optional(input.hostKey, current: base?.hostKey) { v throws(DomainError) in try HostKey.fingerprint(v, field: "host_key") },
            createdAt: base?.createdAt ?? now,
            updatedAt: now
        )
    }
}
