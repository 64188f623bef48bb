"""A node: files of its own (/etc overlay, host key, boot id, stand-ins) and how it boots."""
import os
import shlex
import time
import uuid

from .common import (NIC, OS_VARIANTS, SUDO_USER, LabError, children, k8s_name, node_dir, pid_alive,
                     read_file, read_pid, run, state_dir, write_file)

SUDO_UID = 1990          # uid/gid of the `caulk` user; it exists only inside sudo-knob nodes' /etc overlay
SUDO_HOME = "/var/lib/caulk"   # in the node's /var/lib overlay, never on the host
SUDO_PASSWORD = "caulk-lab-sudo"

NM_CONF = """[keyfile]
unmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali
"""

UNAME = r"""#!/bin/sh
# caulk-lab stand-in: the node's simulated RHEL kernel release (from /etc/caulk-lab/kernel-release) for
# `uname -r` / `uname -a`; every other use is the real /usr/bin/uname. /proc/sys/kernel/osrelease agrees.
REL=$(cat /etc/caulk-lab/kernel-release 2>/dev/null)
[ -n "$REL" ] || exec /usr/bin/uname "$@"
case "$*" in
  -r|--kernel-release) echo "$REL"; exit 0 ;;
  -a|--all) /usr/bin/uname -a | awk -v r="$REL" '{ $3 = r; print }'; exit 0 ;;
esac
exec /usr/bin/uname "$@"
"""

ETHTOOL = r"""#!/bin/sh
# caulk-lab stand-in for ONE query only: `ethtool -i|--driver eth0` on a node marked vmxnet3
# (/etc/caulk-lab/vmxnet3 exists) prints the vmxnet3 driver info. Every other invocation, including
# all of -k/-K and -i on other nodes (driver: veth), is the real /usr/sbin/ethtool.
if [ -f /etc/caulk-lab/vmxnet3 ] && [ "$#" -eq 2 ] && { [ "$1" = -i ] || [ "$1" = --driver ]; } && [ "$2" = eth0 ]; then
cat <<EOF
driver: vmxnet3
version: 1.7.0.0-k-NAPI
firmware-version:
expansion-rom-version:
bus-info: 0000:0b:00.0
supports-statistics: yes
supports-test: no
supports-eeprom-access: no
supports-register-dump: yes
supports-priv-flags: no
EOF
exit 0
fi
exec /usr/sbin/ethtool "$@"
"""

SYSTEMCTL = r"""#!/bin/sh
# caulk-lab stand-in for systemctl (lab nodes run no systemd). Knows NetworkManager and firewalld,
# whose state is the file /etc/caulk-lab/<unit>.active; other units and verbs succeed and do nothing.
cmd=$1; [ $# -gt 0 ] && shift
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
u=${1%.service}
case "$u" in networkmanager) u=NetworkManager ;; esac
case "$cmd" in
  is-active)
    if [ -f "/etc/caulk-lab/$u.active" ]; then echo active; exit 0; else echo inactive; exit 3; fi ;;
  is-enabled)
    if [ -f "/etc/caulk-lab/$u.active" ]; then echo enabled; exit 0; else echo disabled; exit 1; fi ;;
  start|restart|reload|try-restart|reload-or-restart|try-reload-or-restart)
    case "$u" in
      NetworkManager) touch /etc/caulk-lab/NetworkManager.active ;;
      firewalld) touch /etc/caulk-lab/firewalld.active; firewall-cmd --reload >/dev/null ;;
    esac
    exit 0 ;;
  stop)
    rm -f "/etc/caulk-lab/$u.active"
    [ "$u" = firewalld ] && nft delete table inet firewalld 2>/dev/null
    exit 0 ;;
  status)
    if [ -f "/etc/caulk-lab/$u.active" ]; then echo "* $u.service (caulk-lab stand-in)"; echo "   Active: active (running)"; exit 0; fi
    echo "* $u.service (caulk-lab stand-in)"; echo "   Active: inactive (dead)"; exit 3 ;;
  *) exit 0 ;;
esac
"""

FIREWALL_CMD = r"""#!/bin/sh
# caulk-lab stand-in for firewalld's firewall-cmd. Open ports live in
# /etc/firewalld/caulk-lab-{permanent,runtime}.ports; the runtime set is applied as the real nftables
# table `inet firewalld`, which drops 4789/udp, 179/tcp and 5473/tcp unless they are open.
D=/etc/firewalld; P=$D/caulk-lab-permanent.ports; R=$D/caulk-lab-runtime.ports
mkdir -p $D; touch $P $R
active() { [ -f /etc/caulk-lab/firewalld.active ]; }
notrunning() { echo "FirewallD is not running" >&2; exit 252; }
apply() {
  rules=""
  for pp in 4789/udp 179/tcp 5473/tcp; do
    grep -qx "$pp" $R || rules="$rules
    ${pp#*/} dport ${pp%/*} drop"
  done
  nft delete table inet firewalld 2>/dev/null
  nft -f - <<EOF
table inet firewalld {
  chain filter_INPUT {
    type filter hook input priority filter + 10; policy accept;$rules
  }
}
EOF
}
perm=0; act=""; ports=""
for a in "$@"; do
  case "$a" in
    --permanent) perm=1 ;;
    --zone=*|-q|--quiet) ;;
    --state|--reload|--complete-reload|--list-ports|--runtime-to-permanent) act=${a#--} ;;
    --add-port=*) act=add; ports="$ports ${a#*=}" ;;
    --remove-port=*) act=remove; ports="$ports ${a#*=}" ;;
    --query-port=*) act=query; ports="${a#*=}" ;;
    *) echo "caulk-lab firewall-cmd stand-in: unsupported option $a" >&2; exit 2 ;;
  esac
done
F=$R; [ $perm = 1 ] && F=$P
case "$act" in
  state) if active; then echo running; exit 0; else echo "not running"; exit 252; fi ;;
  reload|complete-reload) active || notrunning; cp $P $R; apply; echo success ;;
  runtime-to-permanent) active || notrunning; cp $R $P; echo success ;;
  list-ports) [ $perm = 1 ] || active || notrunning; tr '\n' ' ' < $F; echo ;;
  query) [ $perm = 1 ] || active || notrunning; if grep -qx "$ports" $F; then echo yes; exit 0; else echo no; exit 1; fi ;;
  add) [ $perm = 1 ] || active || notrunning
       for p in $ports; do grep -qx "$p" $F || echo "$p" >> $F; done
       [ $perm = 1 ] || apply; echo success ;;
  remove) [ $perm = 1 ] || active || notrunning
       for p in $ports; do grep -vx "$p" $F > $F.new; mv $F.new $F; done
       [ $perm = 1 ] || apply; echo success ;;
  *) echo "usage: firewall-cmd [--permanent] --state|--reload|--query-port=P|--add-port=P|--remove-port=P|--list-ports" >&2; exit 2 ;;
esac
"""


def node_paths(name):
    d = node_dir(name)
    return {
        "dir": d, "etc": os.path.join(d, "etc", "upper"), "etc_work": os.path.join(d, "etc", "work"),
        "var": os.path.join(d, "varlib", "upper"), "var_work": os.path.join(d, "varlib", "work"),
        "bin": os.path.join(d, "bin"), "boot_id": os.path.join(d, "boot_id"),
        "osrelease": os.path.join(d, "osrelease"), "hostkey": os.path.join(d, "ssh_host_ed25519_key"),
        "sshd_config": os.path.join(d, "sshd_config"), "boot": os.path.join(d, "boot.sh"),
        "pid": os.path.join(d, "pid"), "log": os.path.join(d, "node.log"),
    }


def kubeconfig(cluster):
    ca = read_file(os.path.join(state_dir(), "api-cert.pem"), "")
    import base64
    return """apiVersion: v1
kind: Config
clusters:
- name: %(c)s
  cluster:
    server: %(api)s
    certificate-authority-data: %(ca)s
contexts:
- name: kubernetes-admin@%(c)s
  context:
    cluster: %(c)s
    user: kubernetes-admin
current-context: kubernetes-admin@%(c)s
users:
- name: kubernetes-admin
  user:
    token: caulk-lab-admin
""" % {"c": cluster["name"], "api": cluster["api"], "ca": base64.b64encode(ca.encode()).decode()}


def write_node_files(cluster, node):
    """Everything a node needs on disk before its first boot (host key made separately)."""
    p = node_paths(node["name"])
    osv = OS_VARIANTS[node["os"]]
    for k in ("etc", "etc_work", "var", "var_work", "bin"):
        os.makedirs(p[k], exist_ok=True)
    e = p["etc"]
    write_file(os.path.join(e, "os-release"), osv["os_release"])
    write_file(os.path.join(e, "redhat-release"), osv["pretty"] + "\n")
    hostname = k8s_name(node)   # the FQDN with the fqdn knob (kubeadm registers the node under its hostname)
    write_file(os.path.join(e, "hostname"), hostname + "\n")
    write_file(os.path.join(e, "caulk-lab", "kernel-release"), osv["kernel"] + "\n")
    write_file(os.path.join(e, "caulk-lab", "nic-driver"), ("vmxnet3" if node.get("vmxnet3") else "veth") + "\n")
    if node.get("vmxnet3"):
        write_file(os.path.join(e, "caulk-lab", "vmxnet3"), "%s\n" % NIC)
    write_file(os.path.join(e, "caulk-lab", "NetworkManager.active"), "")
    write_file(os.path.join(e, "NetworkManager", "conf.d", "calico.conf"), NM_CONF)
    os.makedirs(os.path.join(e, "systemd", "system"), exist_ok=True)
    os.makedirs(os.path.join(e, "firewalld"), exist_ok=True)
    write_file(os.path.join(e, "firewalld", "caulk-lab-permanent.ports"), "")
    write_file(os.path.join(e, "firewalld", "caulk-lab-runtime.ports"), "")
    if node["role"] == "control-plane":
        write_file(os.path.join(e, "kubernetes", "admin.conf"), kubeconfig(cluster), 0o600)
    write_file(os.path.join(p["var"], "calico", "mtu"), "1450\n")
    write_file(os.path.join(p["var"], "calico", "nodename"), hostname + "\n")
    variant = cluster.get("variant") or {}
    sudo_user = cluster.get("ssh_user")
    if hostname != node["name"] or sudo_user:
        hosts = read_file("/etc/hosts", "") or ""
        write_file(os.path.join(e, "hosts"), hosts.rstrip("\n") + "\n%s %s %s\n" % (node["ip"], hostname, node["name"]))
    if sudo_user:
        write_sudo_user(p, "sudo-password" in variant)
    write_file(p["osrelease"], osv["kernel"] + "\n")
    if not os.path.exists(p["boot_id"]):
        write_file(p["boot_id"], str(uuid.uuid4()) + "\n")
    for name, body in (("uname", UNAME), ("ethtool", ETHTOOL), ("systemctl", SYSTEMCTL),
                       ("firewall-cmd", FIREWALL_CMD)):
        write_file(os.path.join(p["bin"], name), body, 0o755)
    sd = state_dir()
    cfg = [
        "Port 22", "ListenAddress %s" % node["ip"], "HostKey %s" % p["hostkey"],
        "PermitRootLogin %s" % ("no" if sudo_user else "prohibit-password"), "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "AuthorizedKeysFile %s" % ("%h/.ssh/authorized_keys" if sudo_user else os.path.join(sd, "authorized_keys")),
        "StrictModes no", "MaxStartups 1000:30:1000", "MaxSessions 100", "UseDNS no",
        "PidFile none", "PrintMotd no", "Subsystem sftp internal-sftp",
        "SetEnv CAULK_LAB_NODE=%s" % node["name"],
    ]
    if node["role"] == "control-plane":
        cfg.append("SetEnv KUBECONFIG=/etc/kubernetes/admin.conf CAULK_LAB_NODE=%s" % node["name"])
        cfg.remove("SetEnv CAULK_LAB_NODE=%s" % node["name"])
    write_file(p["sshd_config"], "\n".join(cfg) + "\n", 0o600)
    q = shlex.quote
    boot = """#!/bin/sh
# caulk-lab node boot: runs as PID 1 of the node's pid namespace, inside its net/uts/mount/time namespaces.
set -e
hostname %(hostname)s
mount -t overlay overlay -o lowerdir=/etc,upperdir=%(etc)s,workdir=%(etcw)s /etc
mount -t overlay overlay -o lowerdir=/var/lib,upperdir=%(var)s,workdir=%(varw)s /var/lib
mount -t sysfs sysfs /sys
mount --bind %(bootid)s /proc/sys/kernel/random/boot_id
mount --bind %(osrel)s /proc/sys/kernel/osrelease
mount --bind %(bin)s /usr/local/sbin
# root's own home, as on a real node (not the host's, whose shell start-up files would run here)
mount -t tmpfs -o mode=0700 tmpfs /root
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e -f %(cfg)s
""" % {"hostname": q(hostname), "etc": q(p["etc"]), "etcw": q(p["etc_work"]), "var": q(p["var"]),
       "varw": q(p["var_work"]), "bootid": q(p["boot_id"]), "osrel": q(p["osrelease"]),
       "bin": q(p["bin"]), "cfg": q(p["sshd_config"])}
    write_file(p["boot"], boot, 0o755)


def write_sudo_user(p, password):
    """The `sudo` knob: user caulk (lab key, passwordless sudo; with sudo-password sudo wants a password) made
    only in this node's /etc and /var/lib overlays: copies of the host's passwd/group/shadow plus the user."""
    e = p["etc"]
    u, uid = SUDO_USER, SUDO_UID
    pw_hash = "*"
    if password:
        pw_hash = run(["openssl", "passwd", "-6", SUDO_PASSWORD]).stdout.strip()
    for f, line, mode in (("passwd", "%s:x:%d:%d:caulk-lab sudo user:%s:/bin/bash" % (u, uid, uid, SUDO_HOME), 0o644),
                          ("group", "%s:x:%d:" % (u, uid), 0o644),
                          ("shadow", "%s:%s:19800:0:99999:7:::" % (u, pw_hash), 0o640)):
        cur = read_file(os.path.join("/etc", f), "") or ""
        cur = "".join(l + "\n" for l in cur.splitlines() if not l.startswith(u + ":"))
        write_file(os.path.join(e, f), cur + line + "\n", mode)
        if f == "shadow":
            try:
                import grp
                os.chown(os.path.join(e, f), 0, grp.getgrnam("shadow").gr_gid)
            except (KeyError, ImportError):
                pass
    rule = "%s ALL=(ALL:ALL) %sALL\n" % (u, "" if password else "NOPASSWD: ")
    write_file(os.path.join(e, "sudoers.d", "caulk-lab"), "# caulk-lab sudo knob\n" + rule, 0o440)
    home = os.path.join(p["var"], SUDO_HOME.split("/var/lib/", 1)[1])
    key = read_file(os.path.join(state_dir(), "authorized_keys"), "")
    write_file(os.path.join(home, ".ssh", "authorized_keys"), key, 0o600)
    write_file(os.path.join(home, ".bashrc"), "# caulk-lab\n")
    for d, _dirs, files in os.walk(home):
        os.chown(d, uid, uid)
        for f in files:
            os.chown(os.path.join(d, f), uid, uid)
    os.chmod(home, 0o700)
    os.chmod(os.path.join(home, ".ssh"), 0o700)


def boot_argv(node):
    """argv that boots the node; uptime restarts from ~0 via a time namespace (CLOCK_BOOTTIME offset)."""
    up = float(read_file("/proc/uptime").split()[0])
    off = -int(up) + 1
    p = node_paths(node["name"])
    return ["nsenter", "--net=/run/netns/%s" % node["ns"], "--",
            "unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private", "--time", "--boottime", str(off), "/bin/sh", p["boot"]]


def node_pid1(node):
    """Host PID of the node's PID 1 (its sshd), or None."""
    pid = read_pid(node_paths(node["name"])["pid"])
    if not pid_alive(pid):
        return None
    kids = children(pid)
    return kids[0] if kids else None


def node_exec(node, script, check=True, timeout=30):
    """Run a shell script inside the node (its net, uts and mount namespaces: sees the node's /etc)."""
    pid = None
    for _ in range(50):
        pid = node_pid1(node)
        if pid:
            break
        time.sleep(0.1)
    if not pid:
        raise LabError("node %s is not running" % node["name"])
    env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return run(["nsenter", "-t", str(pid), "-n", "-m", "-u", "--", "/usr/bin/env", env, "/bin/sh", "-c", script],
               check=check, timeout=timeout)


def new_boot_id(node):
    write_file(node_paths(node["name"])["boot_id"], str(uuid.uuid4()) + "\n")


def host_key_fingerprint(node):
    out = run(["ssh-keygen", "-l", "-E", "sha256", "-f", node_paths(node["name"])["hostkey"] + ".pub"]).stdout
    return out.split()[1]


def host_key_pub(node):
    return read_file(node_paths(node["name"])["hostkey"] + ".pub").split()[:2]
