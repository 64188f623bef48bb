import CaulkAPI
import Foundation

extension ClusterFacts {
    /// Reads the cluster steps' output; a failed step leaves its part empty and says why.
    static func parse(_ steps: [String: StepOutput]) -> ClusterFacts {
        var facts = ClusterFacts()
        func json(_ step: String) -> [String: Any]? {
            guard let output = steps[step] else { return nil }
            guard let object = output.json as? [String: Any] else {
                facts.errors.append("\(step): \(output.problem)")
                return nil
            }
            return object
        }
        if let list = json("k8s-nodes") {
            for item in list[array: "items"] {
                let metadata = item[object: "metadata"]
                guard let name = metadata[string: "name"] else { continue }
                let annotations = metadata[object: "annotations"]
                let status = item[object: "status"]
                facts.nodes[name] = Node(
                    internalIp: status[array: "addresses"].first { $0[string: "type"] == "InternalIP" }?[string: "address"],
                    vtep: annotations[string: "projectcalico.org/IPv4VXLANTunnelAddr"],
                    vxlanMac: annotations[string: "projectcalico.org/VXLANTunnelMACAddr"]?.lowercased(),
                    kernel: status[object: "nodeInfo"][string: "kernelVersion"],
                    bootId: status[object: "nodeInfo"][string: "bootID"])
            }
        }
        if let daemonSet = json("calico-node-ds") {
            let containers = daemonSet[object: "spec"][object: "template"][object: "spec"][array: "containers"]
            let image = containers.first { $0[string: "name"] == "calico-node" }?[string: "image"] ?? containers.first?[string: "image"]
            facts.calicoVersion = image.flatMap(Self.version(ofImage:))
        }
        if let pools = json("ippools") {
            let specs = pools[array: "items"].map { $0[object: "spec"] }.filter { $0["disabled"] as? Bool != true }
            facts.vxlanMode = specs.compactMap { $0[string: "vxlanMode"] }.first { $0 != "Never" } ?? (specs.isEmpty ? nil : "Never")
            facts.ipipMode = specs.compactMap { $0[string: "ipipMode"] }.first { $0 != "Never" } ?? (specs.isEmpty ? nil : "Never")
        }
        if let output = steps["felixconfiguration"] {
            if let felix = output.json as? [String: Any] {
                let spec = felix[object: "spec"]
                facts.featureDetectOverride = spec[string: "featureDetectOverride"]
                facts.vxlanVni = spec[int: "vxlanVNI"]
                facts.vxlanPort = spec[int: "vxlanPort"]
            } else if !output.stderr.contains("NotFound") {
                // No FelixConfiguration `default` is a valid install (all defaults); anything else is not.
                facts.errors.append("felixconfiguration: \(output.problem)")
            }
        }
        if let pods = json("calico-pods") {
            for pod in pods[array: "items"] {
                guard let node = pod[object: "spec"][string: "nodeName"] else { continue }
                let status = pod[object: "status"]
                let ready = status[array: "conditions"].contains { $0[string: "type"] == "Ready" && $0[string: "status"] == "True" }
                let restarts = status[array: "containerStatuses"].reduce(0) { $0 + ($1[int: "restartCount"] ?? 0) }
                facts.calicoPods[node] = Pod(name: pod[object: "metadata"][string: "name"] ?? "?", ready: ready, restarts: restarts)
            }
        }
        if let deployment = json("kube-controllers") {
            facts.kubeControllersReady = (deployment[object: "status"][int: "readyReplicas"] ?? 0) > 0
        }
        facts.kubeControllersLog = steps["kube-controllers-log"]?.lines.suffix(5).map { Excerpt.of($0, lines: 1) } ?? []
        if let pods = json("probe-pods") {
            for pod in pods[array: "items"] {
                guard let node = pod[object: "spec"][string: "nodeName"], pod[object: "spec"]["hostNetwork"] as? Bool != true,
                    let ip = pod[object: "status"][string: "podIP"]
                else { continue }
                facts.probePods[node, default: []].append(ip)
            }
        }
        return facts
    }

    /// `docker.io/calico/node:v3.28.2` → `3.28.2`.
    static func version(ofImage image: String) -> String? {
        guard let tag = image.split(separator: "@").first?.split(separator: ":").last, tag.first == "v" || tag.first?.isNumber == true else { return nil }
        return String(tag.drop { $0 == "v" })
    }
}
