import CaulkAPI
import Foundation

extension NodeFacts {
    /// Reads the node steps' output. `nodeIP` is the address Calico uses for the node.
    static func parse(_ steps: [String: StepOutput], nodeIP: String?) -> NodeFacts {
        var facts = NodeFacts()
        if let boot = steps["boot"], boot.succeeded, boot.lines.count >= 2 {
            facts.bootId = boot.lines[0]
            facts.uptimeSeconds = Double(boot.lines[1])
        }
        if let kernel = steps["kernel"], kernel.succeeded { facts.kernel = kernel.lines.first }
        if let os = steps["os"], os.succeeded, let line = os.lines.first, !line.trimmingCharacters(in: .whitespaces).isEmpty {
            facts.os = line.trimmingCharacters(in: .whitespaces)
        }
        if let links = steps["links"]?.json as? [[String: Any]] {
            if let nic = links.first(where: { link in link[array: "addr_info"].contains { $0[string: "local"] == nodeIP } }) {
                facts.nic = nic[string: "ifname"]
                facts.nicMtu = nic[int: "mtu"]
            }
            if let device = links.first(where: { $0[string: "ifname"] == "vxlan.calico" }) {
                let data = device[object: "linkinfo"][object: "info_data"]
                facts.vxlan = VXLANDevice(
                    up: (device["flags"] as? [String] ?? []).contains("UP"), local: data[string: "local"], vni: data[int: "id"],
                    port: data[int: "port"], mac: device[string: "address"]?.lowercased(), mtu: device[int: "mtu"])
            }
        }
        if let driver = steps["nic-driver"], driver.succeeded {
            facts.nicDriver = value(of: "driver", in: driver.lines)
        }
        if let offload = steps["offload"], offload.succeeded {
            facts.offload = value(of: "tx-checksum-ip-generic", in: offload.lines)?.split(separator: " ").first.map(String.init)
        }
        facts.routes = (steps["routes"]?.json as? [Any])?.count
        facts.fdbEntries = (steps["fdb"]?.json as? [Any])?.count
        facts.neighbours = (steps["neighbours"]?.json as? [Any])?.count
        facts.firewalld = steps["firewalld"]?.lines.first
        facts.networkManager = steps["networkmanager"]?.lines.first
        if let rp = steps["rp-filter"], !rp.lines.isEmpty {
            var values: [String: Int] = [:]
            for line in rp.lines {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let value = Int(parts[1]) else { continue }
                values[parts[0].replacingOccurrences(of: "net.ipv4.conf.", with: "").replacingOccurrences(of: ".rp_filter", with: "")] = value
            }
            facts.rpFilter = values
        }
        if let probe = steps["probe"], !probe.lines.isEmpty {
            facts.probes = DatapathProbe.parse(probe)
        }
        return facts
    }

    /// `driver: vmxnet3` → `vmxnet3`.
    static func value(of key: String, in lines: [String]) -> String? {
        for line in lines where line.hasPrefix(key + ":") {
            return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
