import CaulkAPI
import CaulkStore
import Foundation

/// An Ansible inventory as parsed from INI or YAML: groups with hosts, children and variables.
struct AnsibleInventory {
    struct Host {
        var name: String
        var vars: [String: String] = [:]
        var line: Int?
        /// The groups that list it, in the order it was added to them.
        var groups: [String] = []
    }

    struct Group {
        var name: String
        var hosts: [String] = []
        /// `hosts` as a set, for membership tests in large inventories.
        var members: Set<String> = []
        var children: [String] = []
        var childSet: Set<String> = []
        var vars: [String: String] = [:]
        var line: Int?
    }

    private(set) var groups: [String: Group] = [:]
    private(set) var groupOrder: [String] = []
    private(set) var hosts: [String: Host] = [:]
    private(set) var hostOrder: [String] = []

    mutating func group(_ name: String, line: Int?) {
        if groups[name] == nil {
            groups[name] = Group(name: name, line: line)
            groupOrder.append(name)
        }
    }

    mutating func addHost(_ name: String, to groupName: String, vars: [String: String], line: Int?) {
        group(groupName, line: line)
        if hosts[name] == nil {
            hosts[name] = Host(name: name, line: line)
            hostOrder.append(name)
        }
        if groups[groupName]!.members.insert(name).inserted {
            groups[groupName]!.hosts.append(name)
            hosts[name]!.groups.append(groupName)
        }
        hosts[name]!.vars.merge(vars) { _, new in new }
    }

    mutating func addChild(_ child: String, to groupName: String, line: Int?) {
        group(groupName, line: line)
        group(child, line: line)
        if groups[groupName]!.childSet.insert(child).inserted { groups[groupName]!.children.append(child) }
    }

    mutating func setVars(_ vars: [String: String], on groupName: String, line: Int?) {
        group(groupName, line: line)
        groups[groupName]!.vars.merge(vars) { _, new in new }
    }
}

// MARK: - From groups to clusters

/// How an Ansible inventory becomes caulk clusters (documented in README, "Ansible inventories"):
///
/// - Each top-level group (one that is no other group's child; `all` and `ungrouped` aside) is a
///   cluster, named after the group with `_` turned into `-`. Its hosts and the hosts of every group
///   below it are the cluster's nodes. `caulk_cluster` on a host or group, or `--cluster` on the
///   import, names the cluster instead.
/// - Role groups (`control_plane`, `kube_control_plane`, `workers`, `kube_node`, `etcd`,
///   `k8s_cluster`, …) say what a host does, never which cluster it is in, even when they span
///   clusters. A group of clusters (`[clusters:children]`: two or more child groups that each hold a
///   control-plane host) is not a cluster itself: its children are.
/// - A host is a control-plane node when it is in a group named `control_plane`, `control-plane`,
///   `kube_control_plane`, `kube-master`, `kube_master`, `master(s)`, or ending in `_control_plane`,
///   `-control-plane`, `_masters` or `-masters`; or when `caulk_role=control-plane`.
/// - `ansible_host`, `ansible_port`, `ansible_user`, `ansible_ssh_private_key_file` (and the older
///   `ansible_ssh_host/port/user`) give the address and SSH settings; `caulk_host_key`, `caulk_labels`
///   (`k=v,k=v`), `caulk_bastion`, `caulk_node_name` and, on the cluster, `caulk_api_endpoint`
///   (default `https://<first control-plane address>:6443`), `caulk_pod_cidr`, `caulk_encapsulation`,
///   `caulk_calico_namespace` fill in the rest. Variables follow Ansible's precedence: `all`, then
///   groups by depth (deeper wins; at equal depth the group named later), then the host.
extension AnsibleInventory {
    static let controlPlaneGroups: Set<String> = [
        "control_plane", "control-plane", "kube_control_plane", "kube-control-plane", "kube-master", "kube_master",
        "master", "masters",
    ]
    static let controlPlaneSuffixes = ["_control_plane", "-control-plane", "_masters", "-masters"]

    static func isControlPlaneGroup(_ name: String) -> Bool {
        controlPlaneGroups.contains(name.lowercased()) || controlPlaneSuffixes.contains { name.lowercased().hasSuffix($0) }
    }

    private static let implicitGroups: Set<String> = ["all", "ungrouped"]

    /// The variables caulk reads; the parsers keep only these, so a host's resolved variables stay
    /// small however many others the file sets.
    static let knownVariables: Set<String> = [
        "ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port", "ansible_user", "ansible_ssh_user",
        "ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_become", "ansible_become_user", "ansible_become_method",
        "caulk_cluster", "caulk_role", "caulk_node_name", "caulk_host_key", "caulk_labels", "caulk_bastion",
        "caulk_api_endpoint", "caulk_pod_cidr", "caulk_encapsulation", "caulk_calico_namespace",
    ]

    /// Groups that name a role, in single- and multi-cluster layouts and kubespray's.
    static let roleGroups: Set<String> = [
        "node", "nodes", "worker", "workers", "kube_node", "kube_nodes", "kube_worker", "kube_workers", "etcd", "k8s_cluster",
        "kube_cluster", "calico_rr", "bastion",
    ]

    static func isRoleGroup(_ name: String) -> Bool {
        isControlPlaneGroup(name) || roleGroups.contains(name.lowercased().replacingOccurrences(of: "-", with: "_"))
    }

    /// Groups that are clusters: from the top, leaving out role groups, and going down through
    /// groups of clusters.
    private func clusterGroups(parents: [String: [String]], controlPlaneHosts: Set<String>) -> Set<String> {
        // The groups with a control-plane host at or below them: up from those hosts' own groups.
        var aboveControlPlane: Set<String> = []
        var frontier = controlPlaneHosts.flatMap { hosts[$0]?.groups ?? [] }
        while let current = frontier.popLast() {
            if aboveControlPlane.insert(current).inserted { frontier += parents[current] ?? [] }
        }
        var pending = groupOrder.filter { name in
            !Self.implicitGroups.contains(name) && !Self.isRoleGroup(name) && (parents[name] ?? []).allSatisfy { Self.implicitGroups.contains($0) || Self.isRoleGroup($0) }
        }
        var result: Set<String> = []
        var visited: Set<String> = []
        var next = 0
        while next < pending.count {
            let name = pending[next]
            next += 1
            guard visited.insert(name).inserted else { continue }
            let children = groups[name]!.children.filter { !Self.isRoleGroup($0) }
            let clusterLike = children.filter { aboveControlPlane.contains($0) }
            if clusterLike.count >= 2 { pending += children } else { result.insert(name) }
        }
        return result
    }

    /// What a group passes to its hosts, worked out once per group from its parents, so a host
    /// costs only its own groups however deep and wide the tree above them is.
    private struct Inherited {
        /// The longest path down from a group with no parent (Ansible's group depth).
        var depth = 0
        /// Each variable's value with the group it comes from: as in Ansible, a deeper group's
        /// value wins, then the group named later.
        var vars: [String: (depth: Int, group: String, value: String)] = [:]
        var controlPlane = false
        /// The first two, by name, of the cluster groups at or above it: two make a host ambiguous.
        var clusters: [String] = []

        mutating func add(_ other: Inherited) {
            for (key, value) in other.vars where vars[key].map({ ($0.depth, $0.group) < (value.depth, value.group) }) ?? true {
                vars[key] = value
            }
            controlPlane = controlPlane || other.controlPlane
            if !other.clusters.isEmpty { clusters = Array(Set(clusters + other.clusters).sorted().prefix(2)) }
        }
    }

    /// The groups, every parent before its children. A group that is its own ancestor is refused,
    /// as Ansible refuses it.
    private func topDown(parents: [String: [String]]) throws(DomainError) -> [String] {
        var waiting = groupOrder.reduce(into: [String: Int]()) { $0[$1] = parents[$1]?.count ?? 0 }
        var order = groupOrder.filter { waiting[$0] == 0 }
        var next = 0
        while next < order.count {
            for child in groups[order[next]]!.children {
                waiting[child]! -= 1
                if waiting[child] == 0 { order.append(child) }
            }
            next += 1
        }
        if let looped = groupOrder.first(where: { waiting[$0]! > 0 }) {
            throw .invalidInventory(line: groups[looped]!.line, field: "group \(looped)", message: "is in or below a loop of groups (a group that is its own child, or its children's); Ansible refuses such loops too")
        }
        return order
    }

    func clusters(forcedCluster: String?, now: Date) throws(DomainError) -> [InventoryCluster] {
        var parents: [String: [String]] = [:]
        for name in groupOrder {
            for child in groups[name]!.children { parents[child, default: []].append(name) }
        }
        let order = try topDown(parents: parents)
        var inherited: [String: Inherited] = [:]
        for name in order {
            var group = Inherited()
            for parent in parents[name] ?? [] {
                group.depth = max(group.depth, inherited[parent]!.depth + 1)
                group.add(inherited[parent]!)
            }
            group.controlPlane = group.controlPlane || Self.isControlPlaneGroup(name)
            if !Self.implicitGroups.contains(name) {
                for (key, value) in groups[name]!.vars { group.vars[key] = (group.depth, name, value) }
            }
            inherited[name] = group
        }
        let allVars = groups["all"]?.vars ?? [:]
        func resolvedVars(_ from: Inherited) -> [String: String] {
            allVars.merging(from.vars.mapValues(\.value)) { _, new in new }
        }

        struct Member {
            var host: Host
            var vars: [String: String]
            var controlPlane: Bool
        }
        var members: [String: [Member]] = [:]
        var clusterOrder: [String] = []
        var clusterGroup: [String: String] = [:]

        // Each host's variables and role first: which groups are clusters depends on where the
        // control-plane hosts are.
        var resolved: [Member] = []
        for hostName in hostOrder {
            let host = hosts[hostName]!
            var fromGroups = Inherited()
            for group in host.groups { fromGroups.add(inherited[group]!) }
            let vars = resolvedVars(fromGroups).merging(host.vars) { _, new in new }
            let controlPlane = vars["caulk_role"].map { $0 == NodeRole.controlPlane.rawValue } ?? fromGroups.controlPlane
            resolved.append(Member(host: host, vars: vars, controlPlane: controlPlane))
        }
        if forcedCluster == nil {
            let clusterGroups = clusterGroups(parents: parents, controlPlaneHosts: Set(resolved.filter(\.controlPlane).map(\.host.name)))
            for name in order {
                var group = inherited[name]!
                group.clusters = clusterGroups.contains(name) ? [name] : []
                for parent in parents[name] ?? [] { group.add(Inherited(clusters: inherited[parent]!.clusters)) }
                inherited[name] = group
            }
        }

        for member in resolved {
            let host = member.host
            let clusterName: String
            if let forced = forcedCluster {
                clusterName = forced
            } else if let named = member.vars["caulk_cluster"] {
                clusterName = named
            } else {
                var fromGroups = Inherited()
                for group in host.groups { fromGroups.add(Inherited(clusters: inherited[group]!.clusters)) }
                let candidates = fromGroups.clusters
                guard let only = candidates.first else {
                    throw .invalidInventory(line: host.line, field: "host \(host.name)", message: "is in no cluster's group (role groups such as control_plane or workers name no cluster); put it in a cluster's group, set caulk_cluster, or import with --cluster NAME")
                }
                guard candidates.count == 1 else {
                    throw .invalidInventory(line: host.line, field: "host \(host.name)", message: "is under groups \(candidates.joined(separator: " and ")), which would make it a node of two clusters; set caulk_cluster for it, or import with --cluster NAME")
                }
                clusterName = Self.clusterName(fromGroup: only)
                clusterGroup[clusterName] = only
            }
            if members[clusterName] == nil { clusterOrder.append(clusterName) }
            members[clusterName, default: []].append(member)
        }

        return try clusterOrder.map { name throws(DomainError) in
            // The cluster group's own variables over those of the groups above it (a group of clusters).
            let clusterVars = clusterGroup[name].map { resolvedVars(inherited[$0]!) } ?? allVars
            return try cluster(name: name, line: clusterGroup[name].flatMap { groups[$0]?.line }, vars: clusterVars,
                               members: members[name]!.map { ($0.host, $0.vars, $0.controlPlane) }, now: now)
        }
    }

    static func clusterName(fromGroup group: String) -> String {
        group.lowercased().replacingOccurrences(of: "_", with: "-")
    }
}
