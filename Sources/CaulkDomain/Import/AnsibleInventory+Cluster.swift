import CaulkAPI
import CaulkStore
import Foundation

// MARK: - From a group's hosts to a caulk cluster

/// The cluster and its nodes, from the variables each host resolved to: SSH settings of the
/// cluster group (or `all`) become the cluster's defaults, and what a host sets differently
/// becomes that node's overrides.
extension AnsibleInventory {
    private static let variableOfField: [String: String] = [
        "name": "caulk_node_name", "address": "ansible_host", "ssh.port": "ansible_port", "ssh.user": "ansible_user",
        "ssh.key": "ansible_ssh_private_key_file", "ssh.bastion": "caulk_bastion", "ssh.become": "ansible_become_user", "host_key": "caulk_host_key",
        "labels": "caulk_labels", "api_endpoint": "caulk_api_endpoint", "pod_cidr": "caulk_pod_cidr",
    ]

    private static func renamed(_ error: DomainError, subject: String, line: Int?) -> DomainError {
        guard case .invalid(let field, let message) = error else { return error }
        let top = field.hasPrefix("labels.") ? "labels" : field
        return .invalidInventory(line: line, field: "\(subject) \(variableOfField[top] ?? field)", message: message)
    }

    func cluster(
        name: String, line: Int?, vars: [String: String],
        members: [(host: Host, vars: [String: String], controlPlane: Bool)], now: Date
    ) throws(DomainError) -> InventoryCluster {
        let subject = "cluster \(name)"
        func ssh(_ vars: [String: String]) throws(DomainError) -> SSHOverrides {
            var ssh = SSHOverrides(
                user: vars["ansible_user"] ?? vars["ansible_ssh_user"],
                key: vars["ansible_ssh_private_key_file"] ?? vars["ansible_private_key_file"],
                bastion: vars["caulk_bastion"]
            )
            // Ansible's become: only the sudo method, which caulk runs as `sudo -n`.
            if let become = vars["ansible_become"] {
                guard let on = Self.boolean(become) else { throw .invalid(field: "ansible_become", message: "'\(become)' is not true or false") }
                if on {
                    let method = vars["ansible_become_method"] ?? "sudo"
                    guard method == "sudo" else {
                        throw .invalid(field: "ansible_become_method", message: "'\(method)' is not supported; caulk becomes another user with sudo -n only")
                    }
                    ssh.become = vars["ansible_become_user"] ?? "root"
                }
            }
            if let port = vars["ansible_port"] ?? vars["ansible_ssh_port"] {
                guard let number = Int(port) else { throw .invalid(field: "ssh.port", message: "'\(port)' is not a port number") }
                ssh.port = number
            }
            return ssh
        }
        func address(_ member: (host: Host, vars: [String: String], controlPlane: Bool)) -> String {
            member.vars["ansible_host"] ?? member.vars["ansible_ssh_host"] ?? member.host.name
        }

        var input = ClusterInput(name: name, apiEndpoint: vars["caulk_api_endpoint"], podCidr: vars["caulk_pod_cidr"])
        let record: ClusterRecord
        do throws(DomainError) {
            if let text = vars["caulk_encapsulation"] {
                guard let value = Encapsulation(rawValue: text) else { throw DomainError.invalid(field: "caulk_encapsulation", message: "'\(text)' is not one of vxlan, ipip, none") }
                input.encapsulation = value
            }
            if let text = vars["caulk_calico_namespace"] {
                guard let value = CalicoNamespace(rawValue: text) else { throw DomainError.invalid(field: "caulk_calico_namespace", message: "'\(text)' is not kube-system or calico-system") }
                input.calicoNamespace = value
            }
            input.ssh = try ssh(vars)
            if input.apiEndpoint == nil, let first = members.first(where: \.controlPlane) {
                let host = address(first)
                input.apiEndpoint = "https://" + (host.contains(":") ? "[\(host)]" : host) + ":6443"
            }
            guard input.apiEndpoint != nil else {
                throw DomainError.invalid(field: "api_endpoint", message: "is unknown: no control-plane host and no caulk_api_endpoint; put the control-plane hosts in a group like \(name.replacingOccurrences(of: "-", with: "_"))_control_plane or set caulk_api_endpoint")
            }
            if !Validate.isLabel(name, allowUppercase: false) {
                throw DomainError.invalid(field: "name", message: "'\(name)' is not a DNS-1123 label, so it cannot name a cluster; set caulk_cluster or import with --cluster NAME")
            }
            record = try InventoryRules.cluster(input, over: nil, now: now)
        } catch {
            throw Self.renamed(error, subject: subject, line: line)
        }

        var nodes: [NodeRecord] = []
        var seen: [String: String] = [:]
        for member in members {
            let hostSubject = "host \(member.host.name)"
            do throws(DomainError) {
                let nodeSSH = try ssh(member.vars)
                let overrides = SSHOverrides(
                    user: nodeSSH.user == record.sshUser ? nil : nodeSSH.user,
                    port: nodeSSH.port == record.sshPort ? nil : nodeSSH.port,
                    key: nodeSSH.key == record.sshKey ? nil : nodeSSH.key,
                    bastion: nodeSSH.bastion == record.bastion ? nil : nodeSSH.bastion,
                    become: nodeSSH.become == record.sshBecome ? nil : nodeSSH.become
                )
                let nodeName = member.vars["caulk_node_name"]
                    ?? String(member.host.name.lowercased().prefix { $0 != "." })
                let input = NodeInput(
                    name: nodeName,
                    address: address(member),
                    role: member.controlPlane ? .controlPlane : .worker,
                    labels: try Self.labels(member.vars["caulk_labels"]),
                    ssh: overrides,
                    hostKey: member.vars["caulk_host_key"]
                )
                let node = try InventoryRules.node(input, clusterId: 0, over: nil, now: now)
                if let other = seen[node.name] {
                    throw DomainError.invalidInventory(line: member.host.line, field: hostSubject, message: "becomes node \(node.name) of cluster \(name), as does host \(other); set caulk_node_name on one of them")
                }
                seen[node.name] = member.host.name
                nodes.append(node)
            } catch {
                throw Self.renamed(error, subject: hostSubject, line: member.host.line)
            }
        }
        return InventoryCluster(cluster: record, nodes: nodes)
    }

    /// Ansible's booleans.
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }

    private static func labels(_ text: String?) throws(DomainError) -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .invalid(field: "labels", message: "'\(pair)' is not key=value") }
            labels[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return labels
    }
}
