"""Inventories of the lab fleet: caulk YAML, Ansible INI, known_hosts."""
import os

from .common import load_state, state_dir
from .node import host_key_fingerprint, host_key_pub


def caulk_yaml(st):
    key = os.path.join(state_dir(), "id_ed25519")
    out = ["clusters:"]
    for c in st["clusters"]:
        out += ["  - name: %s" % c["name"],
                "    api_endpoint: %s" % c["api"],
                "    pod_cidr: %s" % c["pod_cidr"],
                "    encapsulation: %s" % c["mode"],
                "    calico_namespace: %s" % c["namespace"],
                "    ssh: {user: %s, port: 22, key: %s%s}" % (c.get("ssh_user", "root"), key,
                                                          "" if c.get("ssh_user", "root") == "root" else ", become: root"),
                "    nodes:"]
        for n in c["nodes"]:
            out += ["      - name: %s" % n["name"],
                    "        address: %s" % n["ip"],
                    "        role: %s" % n["role"],
                    '        host_key: "%s"' % host_key_fingerprint(n),
                    '        labels: {lab: "true", os: %s, nic: %s}' % (n["os"], "vmxnet3" if n["vmxnet3"] else "veth")]
    return "\n".join(out) + "\n"


def ansible_ini(st):
    key = os.path.join(state_dir(), "id_ed25519")
    out = []
    for c in st["clusters"]:
        g = c["name"].replace("-", "_")
        cp = [n for n in c["nodes"] if n["role"] == "control-plane"]
        wk = [n for n in c["nodes"] if n["role"] != "control-plane"]

        user = c.get("ssh_user", "root")
        become = "" if user == "root" else " ansible_become=true ansible_become_method=sudo"

        def line(n, user=user, become=become):
            return ("%s ansible_host=%s ansible_port=22 ansible_user=%s%s ansible_ssh_private_key_file=%s "
                    "caulk_host_key=%s caulk_role=%s" % (n["name"], n["ip"], user, become, key,
                                                         host_key_fingerprint(n), n["role"]))
        out.append("[%s_control_plane]" % g)
        out += [line(n) for n in cp]
        out.append("")
        out.append("[%s_workers]" % g)
        out += [line(n) for n in wk]
        out.append("")
        out += ["[%s:children]" % g, "%s_control_plane" % g, "%s_workers" % g, ""]
        out += ["[%s:vars]" % g, "caulk_cluster=%s" % c["name"], "caulk_api_endpoint=%s" % c["api"],
                "caulk_pod_cidr=%s" % c["pod_cidr"], "caulk_encapsulation=%s" % c["mode"],
                "caulk_calico_namespace=%s" % c["namespace"], ""]
    return "\n".join(out)


def known_hosts(st):
    out = []
    for c in st["clusters"]:
        for n in c["nodes"]:
            t, k = host_key_pub(n)
            out.append("%s %s %s" % (n["ip"], t, k))
    return "\n".join(out) + "\n"


def render(fmt, known=False):
    st = load_state()
    if known:
        return known_hosts(st)
    return caulk_yaml(st) if fmt == "caulk" else ansible_ini(st)
