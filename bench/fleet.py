#!/usr/bin/env python3
"""Writes an inventory of C clusters x N nodes (labK, labK-nJ at 198.18.K.J) in caulk YAML or Ansible INI."""
import sys

def caulk(clusters, nodes):
    out = ["clusters:"]
    for c in range(1, clusters + 1):
        out += [f"  - name: lab{c}", f"    api_endpoint: https://198.18.{c % 256}.1:6443", "    pod_cidr: 198.19.0.0/16",
                "    ssh: {user: root, key: /etc/caulk/id_ed25519}", "    nodes:"]
        for n in range(1, nodes + 1):
            role = "control-plane" if n == 1 else "worker"
            out.append(f"      - {{name: lab{c}-n{n}, address: 198.18.{c % 256}.{n % 256}, role: {role}, labels: {{lab: \"true\"}}}}")
    return "\n".join(out) + "\n"

def ansible(clusters, nodes):
    out = ["[all:vars]", "ansible_user=root", "ansible_ssh_private_key_file=/etc/caulk/id_ed25519",
           "caulk_pod_cidr=198.19.0.0/16", "caulk_labels=lab=true", ""]
    for c in range(1, clusters + 1):
        out += [f"[lab{c}:children]", f"lab{c}_control_plane", "", f"[lab{c}_control_plane]",
                f"lab{c}-n1 ansible_host=198.18.{c % 256}.1", "", f"[lab{c}]"]
        out += [f"lab{c}-n{n} ansible_host=198.18.{c % 256}.{n % 256}" for n in range(2, nodes + 1)]
        out.append("")
    return "\n".join(out)

if __name__ == "__main__":
    fmt, clusters, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.stdout.write(caulk(clusters, nodes) if fmt == "caulk" else ansible(clusters, nodes))
