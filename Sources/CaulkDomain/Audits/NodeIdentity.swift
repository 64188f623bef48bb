import CaulkAPI
import Foundation

/// Which Kubernetes Node each inventory node is. A node often has three names that differ: the
/// inventory's, its hostname (an FQDN on many RHEL installs) and its Kubernetes Node name. The
/// address is the surest link: a Node whose `InternalIP` is the node's address; failing that,
/// the same name, or the same short name (the first label of an FQDN).
struct NodeIdentity: Equatable {
    /// Inventory name → Kubernetes Node name.
    var names: [String: String] = [:]
    /// Inventory name → why it has no Kubernetes Node.
    var problems: [String: String] = [:]
    /// Kubernetes Nodes no inventory node matched.
    var unclaimed: [String] = []

    static func match(_ inventory: [(name: String, address: String)], kubernetes: [String: ClusterFacts.Node]) -> NodeIdentity {
        var identity = NodeIdentity()
        var byAddress: [String: [String]] = [:]
        var byShortName: [String: [String]] = [:]
        for (name, node) in kubernetes {
            if let ip = node.internalIp { byAddress[ip, default: []].append(name) }
            byShortName[shortName(name), default: []].append(name)
        }
        var claimedBy: [String: [String]] = [:]
        for node in inventory {
            let byIP = byAddress[node.address] ?? []
            let candidates: [String]
            let how: String
            if !byIP.isEmpty {
                (candidates, how) = (byIP, "InternalIP \(node.address)")
            } else if kubernetes[node.name] != nil {
                (candidates, how) = ([node.name], "name")
            } else {
                (candidates, how) = (byShortName[shortName(node.name)] ?? [], "short name \(shortName(node.name))")
            }
            switch candidates.count {
            case 0:
                identity.problems[node.name] = "no Kubernetes Node has InternalIP \(node.address) or the name \(node.name) (or its short name)"
            case 1:
                identity.names[node.name] = candidates[0]
                claimedBy[candidates[0], default: []].append(node.name)
            default:
                identity.problems[node.name] = "\(candidates.count) Kubernetes Nodes match by \(how): \(candidates.sorted().joined(separator: ", "))"
            }
        }
        for (k8sName, claimants) in claimedBy where claimants.count > 1 {
            for claimant in claimants {
                identity.names[claimant] = nil
                identity.problems[claimant] = "Kubernetes Node \(k8sName) matches \(claimants.count) inventory nodes: \(claimants.sorted().joined(separator: ", "))"
            }
        }
        let claimed = Set(identity.names.values)
        identity.unclaimed = kubernetes.keys.filter { !claimed.contains($0) }.sorted()
        return identity
    }

    /// `w1.prod.example.com` → `w1`.
    static func shortName(_ name: String) -> String {
        String(name.lowercased().prefix { $0 != "." })
    }
}
