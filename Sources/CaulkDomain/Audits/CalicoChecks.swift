import CaulkAPI
import Foundation

/// The built-in checks of the Calico VXLAN failure modes (F1–F8, docs/failure-modes.md). Each reads named steps' output (the
/// loader refuses a playbook that names a check without its steps) and returns findings with
/// the severity the failure deserves; the playbook gives the check id and the repair.
enum CalicoChecks {
    /// What a per-node check sees.
    struct NodeContext {
        let node: String
        /// The node's Kubernetes Node name, when the audit matched one.
        var kubernetesName: String? = nil
        let nodeIP: String?
        let facts: NodeFacts
        let steps: [String: StepOutput]
        let cluster: ClusterFacts
    }

    /// What a check concluded on a node: a finding, or that it could not tell (its input was
    /// missing, cut or unreadable). Unknown is never healthy and never broken.
    enum Outcome: Equatable {
        case finding(Severity, String, String)
        case unknown(String, String)
    }

    /// The steps a check reads from the node itself, as opposed to kubectl's.
    static func nodeSteps(of builtin: BuiltinCheck) -> [String] {
        builtin.requiredSteps.filter { !clusterSteps.contains($0) }
    }

    /// The steps of the built-in checks that kubectl runs once for the cluster.
    static let clusterSteps: Set<String> = ["k8s-nodes", "calico-node-ds", "felixconfiguration", "calico-pods", "kube-controllers", "kube-controllers-log", "ippools", "probe-pods"]

    /// A per-node check's outcomes on one node; a cluster-wide check gives none here.
    static func node(_ builtin: BuiltinCheck, _ context: NodeContext) -> [Outcome] {
        if builtin.isVXLANOnly, context.cluster.usesVXLAN == false { return [] }
        // A step cut off, timed out or over its limit tells nothing either way.
        for step in nodeSteps(of: builtin) {
            guard let output = context.steps[step] else { return [.unknown("step \(step) gave no output (the node's batch ended before it)", "")] }
            guard output.complete else { return [.unknown("step \(step): \(output.problem)", Excerpt.of(output.stderr, lines: 3))] }
        }
        switch builtin {
        case .vxlanDevice: return vxlanDevice(context)
        case .checksumOffload: return checksumOffload(context)
        case .vxlanPeers: return vxlanPeers(context)
        case .firewallVXLANPort: return firewall(context)
        case .vxlanMTU: return vxlanMTU(context)
        case .networkManagerUnmanaged: return networkManager(context)
        case .rpFilter:
            guard let values = context.facts.rpFilter, !values.isEmpty else {
                return [.unknown("no rp_filter value could be read", context.steps["rp-filter"].map(\.problem) ?? "")]
            }
            let strict = values.filter { $0.value == 1 }.keys.sorted()
            guard !strict.isEmpty else { return [] }
            return [.finding(.info, "strict reverse-path filtering (rp_filter=1) on \(strict.joined(separator: ", ")); Calico 3.22+ works with it, so this is not a fault", strict.map { "net.ipv4.conf.\($0).rp_filter = 1" }.joined(separator: "\n"))]
        case .offloadRisk, .datapath, .calicoPods:
            return []
        }
    }

    private static func vxlanDevice(_ context: NodeContext) -> [Outcome] {
        guard context.steps["links"]?.json != nil else { return [.unknown("the node's links could not be read", context.steps["links"]?.problem ?? "no output")] }
        guard let device = context.facts.vxlan else {
            return [.finding(.critical, "vxlan.calico does not exist: no VXLAN traffic leaves or reaches this node", "ip -d -j addr show: no vxlan.calico")]
        }
        var problems: [String] = []
        if !device.up { problems.append("it is DOWN") }
        if let ip = context.nodeIP, device.local != ip { problems.append("its local address \(device.local ?? "(none)") is not the node's \(ip)") }
        let vni = context.cluster.vxlanVni ?? 4096
        if device.vni != vni { problems.append("VNI \(device.vni.map(String.init) ?? "?") is not \(vni)") }
        let port = context.cluster.vxlanPort ?? 4789
        if device.port != port { problems.append("port \(device.port.map(String.init) ?? "?") is not \(port)") }
        if let mac = context.kubernetesName.flatMap({ context.cluster.nodes[$0]?.vxlanMac }), device.mac != mac {
            problems.append("MAC \(device.mac ?? "?") is not the node's VXLANTunnelMACAddr \(mac)")
        }
        guard !problems.isEmpty else { return [] }
        let evidence = "vxlan.calico: \(device.up ? "UP" : "DOWN") local \(device.local ?? "-") id \(device.vni.map(String.init) ?? "-") port \(device.port.map(String.init) ?? "-") mac \(device.mac ?? "-") mtu \(device.mtu.map(String.init) ?? "-")"
        return [.finding(.critical, "vxlan.calico is stale: " + problems.joined(separator: "; "), evidence)]
    }

    private static func checksumOffload(_ context: NodeContext) -> [Outcome] {
        let facts = context.facts
        guard facts.vxlan != nil else { return [] }  // the device check says it is missing
        guard let offload = facts.offload else {
            return [.unknown("the checksum offload of vxlan.calico could not be read", context.steps["offload"]?.problem ?? "no output")]
        }
        guard offload == "on" else { return [] }
        let evidence = "tx-checksum-ip-generic: on; kernel \(facts.kernel ?? "?"); NIC \(facts.nic ?? "?") driver \(facts.nicDriver ?? "?")"
        guard let driver = facts.nicDriver else {
            return [.unknown("checksum offload is on and the NIC's driver could not be read (it matters on vmxnet3)", context.steps["nic-driver"]?.problem ?? evidence)]
        }
        if driver == "vmxnet3" {
            return [.finding(.critical, "VXLAN checksum offload is on over a vmxnet3 NIC: only ICMP crosses the overlay (Calico issue 9433)", evidence)]
        }
        return [.finding(.info, "VXLAN checksum offload is on; harmless unless the NIC path mangles checksums (vmxnet3)", evidence)]
    }

    private static func vxlanMTU(_ context: NodeContext) -> [Outcome] {
        let facts = context.facts
        guard context.steps["links"]?.json != nil else { return [.unknown("the node's links could not be read", context.steps["links"]?.problem ?? "no output")] }
        guard let vxlan = facts.vxlan else { return [] }
        guard let mtu = vxlan.mtu, let nicMtu = facts.nicMtu else {
            return [.unknown("no interface holds the node IP \(context.nodeIP ?? "?"), so its NIC's MTU is not known", "")]
        }
        guard mtu > nicMtu - 50 else { return [] }
        return [.finding(.critical, "vxlan.calico MTU \(mtu) is above \(facts.nic ?? "the NIC")'s MTU \(nicMtu) − 50: full-size packets are dropped", "vxlan.calico mtu \(mtu); \(facts.nic ?? "nic") mtu \(nicMtu)")]
    }

    private static func networkManager(_ context: NodeContext) -> [Outcome] {
        let states: Set<String> = ["active", "inactive", "failed", "unknown", "activating", "deactivating", "reloading"]
        guard let state = context.facts.networkManager, states.contains(state) else {
            return [.unknown("NetworkManager's state could not be read", context.steps["networkmanager"]?.problem ?? "no output")]
        }
        guard state == "active" else { return [] }
        let conf = context.steps["nm-calico-conf"]
        let required = ["interface-name:cali*", "interface-name:tunl*", "interface-name:vxlan.calico"]
        if let conf, conf.succeeded, conf.stdout.contains("[keyfile]"), required.allSatisfy(conf.stdout.contains) { return [] }
        let evidence = conf.map { $0.succeeded ? Excerpt.of($0.stdout) : $0.problem } ?? "no output"
        return [.finding(.warning, "NetworkManager is active and /etc/NetworkManager/conf.d/calico.conf does not leave Calico's interfaces unmanaged: it can take vxlan.calico down", "/etc/NetworkManager/conf.d/calico.conf: " + evidence)]
    }

    /// F3: per peer, one route to its block via its VTEP, a neighbour entry of its VTEP, and an
    /// FDB entry sending that MAC to its InternalIP. The MAC comes from the Node annotation when
    /// there is one, else from the neighbour entry (so a missing annotation checks consistency,
    /// not nothing); a peer without a VTEP annotation cannot be checked, and the finding says so.
    private static func vxlanPeers(_ context: NodeContext) -> [Outcome] {
        guard context.facts.vxlan != nil else { return [] }  // the device check already says it is missing
        guard !context.cluster.nodes.isEmpty else {
            return [.unknown("no Kubernetes Nodes from kubectl to compare the peers with", context.cluster.errors.first ?? "")]
        }
        var tables: [String: [[String: Any]]] = [:]
        for step in ["routes", "fdb", "neighbours"] {
            guard let table = context.steps[step]?.json as? [[String: Any]] else {
                return [.unknown("step \(step) did not give a JSON list", context.steps[step]?.problem ?? "no output")]
            }
            tables[step] = table
        }
        // Each table indexed once by what a peer is looked up by: a node's tables hold an entry
        // per peer, so searching them per peer would cost the square of the cluster's size.
        let routesVia = Dictionary(grouping: tables["routes"]!.compactMap { $0[string: "gateway"] }, by: { $0 }).mapValues(\.count)
        let neighbourMacs = Dictionary(grouping: tables["neighbours"]!.compactMap { entry in entry[string: "dst"].map { ($0, entry[string: "lladdr"]?.lowercased()) } }, by: \.0)
            .mapValues { $0.map(\.1) }
        let fdb = tables["fdb"]!
        let fdbByMac = Dictionary(grouping: fdb.compactMap { entry in entry[string: "mac"].map { ($0.lowercased(), entry[string: "dst"]) } }, by: \.0)
            .mapValues { $0.map(\.1) }
        let fdbDestinations = Set(fdb.compactMap { $0[string: "dst"] })
        var missing: [String] = []
        var wrong: [String] = []
        var unchecked: [String] = []
        let peers = context.cluster.nodes.filter { name, node in name != context.kubernetesName && (node.internalIp == nil || node.internalIp != context.nodeIP) }
        for (peer, info) in peers.sorted(by: { $0.key < $1.key }) {
            guard let vtep = info.vtep else {
                unchecked.append("\(peer): no projectcalico.org/IPv4VXLANTunnelAddr annotation")
                continue
            }
            let viaPeer = routesVia[vtep] ?? 0
            if viaPeer == 0 { missing.append("\(peer): route via \(vtep)") } else if viaPeer > 1 { wrong.append("\(peer): \(viaPeer) routes via \(vtep)") }
            let macs = neighbourMacs[vtep] ?? []
            let neighbourMac = macs.first ?? nil
            if macs.isEmpty {
                missing.append("\(peer): neighbour \(vtep)")
            } else if let mac = info.vxlanMac, !macs.contains(mac) {
                wrong.append("\(peer): neighbour \(vtep) → \(neighbourMac ?? "?"), not \(mac)")
            }
            guard let ip = info.internalIp else {
                unchecked.append("\(peer): no InternalIP, so its FDB entry is not checked")
                continue
            }
            if let mac = info.vxlanMac ?? neighbourMac {
                let destinations = fdbByMac[mac] ?? []
                if destinations.isEmpty {
                    missing.append("\(peer): FDB \(mac)")
                } else if !destinations.contains(ip) {
                    wrong.append("\(peer): FDB \(mac) → \((destinations.first ?? nil) ?? "?"), not \(ip)")
                }
            } else if !fdbDestinations.contains(ip) {
                missing.append("\(peer): FDB entry to \(ip)")
            }
        }
        var outcomes: [Outcome] = []
        if !missing.isEmpty || !wrong.isEmpty {
            let peersAffected = Set((missing + wrong).map { $0.split(separator: ":").first.map(String.init) ?? "" }).count
            outcomes.append(.finding(.critical, "VXLAN entries for \(peersAffected) peer(s) are missing or wrong (\(missing.count) missing, \(wrong.count) wrong)", Excerpt.of((missing + wrong).joined(separator: "\n"), lines: 12)))
        }
        if !unchecked.isEmpty {
            outcomes.append(.finding(.info, "\(unchecked.count) peer(s) could not be fully checked: their Kubernetes Node lacks what F3 compares with", Excerpt.of(unchecked.joined(separator: "\n"), lines: 12)))
        }
        return outcomes
    }

    private static func firewall(_ context: NodeContext) -> [Outcome] {
        let lines = context.steps["firewalld"]?.lines ?? []
        switch (lines.first, lines.dropFirst().first) {
        case ("running", "no"):
            return [.finding(.critical, "firewalld is running and does not open 4789/udp: VXLAN packets are dropped", "firewall-cmd --state: running; --query-port=4789/udp: no")]
        case ("running", "yes"), ("absent", _), ("not running", _):
            break
        default:
            return [.unknown("firewalld's state could not be read", context.steps["firewalld"]?.problem ?? "no output")]
        }
        guard let output = context.steps["nftables"], output.succeeded, let rules = NftRuleset.dropOrRejectRules(output.stdout) else {
            return [.unknown("the nftables ruleset could not be read", context.steps["nftables"]?.problem ?? "no output")]
        }
        var drops: [String] = []
        for entry in rules {
            let rule = entry[object: "rule"]
            let expressions = rule[array: "expr"]
            guard !expressions.isEmpty,
                expressions.contains(where: { $0["drop"] != nil || $0["reject"] != nil }),
                expressions.contains(where: { matchesPort4789($0[object: "match"]) })
            else { continue }
            drops.append("table \(rule[string: "family"] ?? "?") \(rule[string: "table"] ?? "?") chain \(rule[string: "chain"] ?? "?") handle \(rule[int: "handle"].map(String.init) ?? "?"): drops 4789")
        }
        guard !drops.isEmpty else { return [] }
        return [.finding(.critical, "an nftables rule drops UDP 4789: VXLAN packets are dropped", drops.joined(separator: "\n"))]
    }

    private static func matchesPort4789(_ match: [String: Any]) -> Bool {
        guard match[object: "left"][object: "payload"][string: "field"] == "dport" else { return false }
        let right = match["right"]
        if let port = right as? NSNumber { return port.intValue == 4789 }
        if let set = (right as? [String: Any])?["set"] as? [Any] {
            return set.contains { element in
                if let port = element as? NSNumber { return port.intValue == 4789 }
                if let range = (element as? [String: Any])?["range"] as? [NSNumber], range.count == 2 {
                    return range[0].intValue <= 4789 && 4789 <= range[1].intValue
                }
                return false
            }
        }
        if let range = (right as? [String: Any])?["range"] as? [NSNumber], range.count == 2 {
            return range[0].intValue <= 4789 && 4789 <= range[1].intValue
        }
        return false
    }

    // MARK: Cluster-wide

    /// F8: Calico 3.28.0 and 3.28.2+ turn VXLAN checksum offload on at a node's next restart when
    /// its kernel is newer than 5.7; on vmxnet3 that breaks TCP. Reported while it has not happened.
    static func offloadRisk(_ cluster: ClusterFacts, nodes: [String: NodeFacts]) -> (Severity, String, String)? {
        guard cluster.usesVXLAN != false, let version = cluster.calicoVersion, offloadArming(version), !cluster.offloadOverridden else { return nil }
        // Nodes whose offload is already on are F2's, not a risk any more.
        let atRisk = nodes.filter { armedAtNextRestart($0.value) }.keys.sorted()
        guard !atRisk.isEmpty else { return nil }
        return (.warning,
                "Calico v\(version) will turn VXLAN checksum offload on at the next restart of \(atRisk.count) node(s) with a kernel > 5.7 on vmxnet3, breaking TCP across the overlay (F2); set FelixConfiguration featureDetectOverride ChecksumOffloadBroken=true before then",
                "calico v\(version); featureDetectOverride: \(cluster.featureDetectOverride ?? "(none)"); at risk: " + atRisk.map { "\($0) (\(nodes[$0]?.kernel ?? "?"), vmxnet3)" }.joined(separator: ", "))
    }

    /// A node F8 is about: vmxnet3, a kernel newer than 5.7, and offload not on yet.
    static func armedAtNextRestart(_ node: NodeFacts) -> Bool {
        node.nicDriver == "vmxnet3" && kernelAbove57(node.kernel) && node.offload != "on"
    }

    static func offloadArming(_ version: String) -> Bool {
        let parts = version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        guard parts.count >= 2 else { return false }
        let (major, minor, patch) = (parts[0], parts[1], parts.count > 2 ? parts[2] : 0)
        if major != 3 { return major > 3 }
        if minor != 28 { return minor > 28 }
        return patch != 1
    }

    static func kernelAbove57(_ kernel: String?) -> Bool {
        guard let parts = kernel?.split(separator: ".").prefix(2).map({ Int($0.prefix { $0.isNumber }) ?? 0 }), parts.count == 2 else { return false }
        return parts[0] > 5 || (parts[0] == 5 && parts[1] > 7)
    }

    /// calico-node pods that are not Ready, per node; kube-controllers down, for the cluster.
    static func calicoPods(_ cluster: ClusterFacts, nodes: [String]) -> [(node: String?, Severity, String, String)] {
        guard cluster.controlPlane != nil, !cluster.calicoPods.isEmpty || cluster.errors.isEmpty else { return [] }
        var findings: [(node: String?, Severity, String, String)] = []
        for node in nodes.sorted() {
            guard let pod = cluster.calicoPod(on: node) else {
                if let name = cluster.kubernetesName(of: node) { findings.append((node, .info, "no calico-node pod runs on this node (Kubernetes Node \(name))", "")) }
                continue
            }
            // Readiness follows Felix and peers' state, not this node's datapath: the probe judges that.
            if !pod.ready { findings.append((node, .info, "calico-node pod \(pod.name) is not Ready (\(pod.restarts) restarts)", "")) }
        }
        if cluster.kubeControllersReady == false {
            findings.append((nil, .warning, "calico-kube-controllers is not Ready", cluster.kubeControllersLog.joined(separator: "\n")))
        }
        return findings
    }
}
