"""Shared helpers: state directory, naming/addressing, subprocess and namespace helpers."""
import array
import ctypes
import fcntl
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import threading

LAB_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
BRIDGE = "caulklab0"
BRIDGE_ADDR = "198.18.0.1/16"
UNDERLAY = ipaddress.ip_network("198.18.0.0/16")
POD_CIDR = "198.19.0.0/16"
VXLAN_DEV = "vxlan.calico"
VNI = 4096
VXLAN_PORT = 4789
VXLAN_MTU = 1450
NIC = "eth0"
NIC_MTU = 1500
POD_PORT = 53          # the "CoreDNS" listener every node's pod address serves
PROBE_PAYLOAD = 8192   # bytes the listener sends: large enough to need full-size segments (F5)
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NFT_BRIDGE_TABLE = "caulklab_vmxnet3"

OS_VARIANTS = {
    "rhel8": {
        "kernel": "4.18.0-553.16.1.el8_10.x86_64",
        "os_release": (
            'NAME="Red Hat Enterprise Linux"\nVERSION="8.10 (Ootpa)"\nID="rhel"\nID_LIKE="fedora"\n'
            'VERSION_ID="8.10"\nPLATFORM_ID="platform:el8"\n'
            'PRETTY_NAME="Red Hat Enterprise Linux 8.10 (Ootpa)"\nANSI_COLOR="0;31"\n'
            'CPE_NAME="cpe:/o:redhat:enterprise_linux:8::baseos"\n'
            'HOME_URL="https://www.redhat.com/"\n'),
        "pretty": "Red Hat Enterprise Linux 8.10 (Ootpa)",
    },
    "rhel9": {
        "kernel": "5.14.0-427.13.1.el9_4.x86_64",
        "os_release": (
            'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nID_LIKE="fedora"\n'
            'VERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n'
            'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\nANSI_COLOR="0;31"\n'
            'CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"\n'
            'HOME_URL="https://www.redhat.com/"\n'),
        "pretty": "Red Hat Enterprise Linux 9.4 (Plow)",
    },
}


class LabError(Exception):
    pass


def state_dir():
    return os.environ.get("CAULK_LAB_STATE", "/run/caulk-lab")


def state_file():
    return os.path.join(state_dir(), "lab.json")


def load_state(required=True):
    try:
        with open(state_file()) as f:
            return json.load(f)
    except FileNotFoundError:
        if required:
            raise LabError("no lab is up (no %s); run `caulk-lab up` first" % state_file())
        return None


def save_state(st):
    os.makedirs(state_dir(), exist_ok=True)
    tmp = state_file() + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, state_file())


def node_dir(name):
    return os.path.join(state_dir(), "nodes", name)


def cluster_dir(name):
    return os.path.join(state_dir(), "clusters", name)


def find_node(st, name):
    for c in st["clusters"]:
        for n in c["nodes"]:
            if n["name"] == name:
                return c, n
    raise LabError("unknown node %r" % name)


def k8s_name(node):
    """The node's Kubernetes Node name (= its hostname): the lab name, or its FQDN with the `fqdn` knob."""
    return node.get("k8s_name") or node["name"]


FQDN_DOMAIN = "lab.example"
SUDO_USER = "caulk"
# knob -> (takes a value?, default value)
KNOBS = {"fqdn": (False, True), "no-vxlan-mac": (False, True), "big-ruleset": (True, 20000),
         "operator": (False, True), "calico": (True, None), "sudo": (False, True), "sudo-password": (False, True)}


def parse_variants(specs, cluster_names):
    """`--variant CLUSTER:KNOB[,KNOB...]` (repeatable) -> {cluster: {knob: value}}; LabError when wrong."""
    out = {}
    for spec in specs or []:
        if ":" not in spec:
            raise LabError("--variant %r: expected CLUSTER:KNOB[,KNOB...]" % spec)
        cname, knobs = spec.split(":", 1)
        if cname not in cluster_names:
            raise LabError("--variant %r: unknown cluster %r (clusters: %s)" % (spec, cname, ", ".join(cluster_names)))
        v = out.setdefault(cname, {})
        for k in filter(None, (x.strip() for x in knobs.split(","))):
            key, _, val = k.partition("=")
            if key not in KNOBS:
                raise LabError("--variant %r: unknown knob %r (knobs: %s)" % (spec, key, ", ".join(sorted(KNOBS))))
            takes, default = KNOBS[key]
            if val and not takes:
                raise LabError("--variant %r: knob %r takes no value" % (spec, key))
            if key == "big-ruleset":
                try:
                    val = int(val) if val else default
                except ValueError:
                    raise LabError("--variant %r: big-ruleset=N needs an integer" % spec)
                if not 1 <= val <= 500000:
                    raise LabError("--variant %r: big-ruleset=N must be 1..500000" % spec)
            elif key == "calico":
                if not re.match(r"^\d+\.\d+\.\d+$", val or ""):
                    raise LabError("--variant %r: calico=X.Y.Z needs a version like 3.27.3" % spec)
            else:
                val = default
            v[key] = val
        if "sudo" in v and "sudo-password" in v:
            raise LabError("--variant %r: sudo and sudo-password exclude each other" % spec)
    return out


def find_cluster(st, name):
    for c in st["clusters"]:
        if c["name"] == name:
            return c
    raise LabError("unknown cluster %r" % name)


def node_plan(cname, ci, ni):
    """Deterministic addressing for node ni (1-based) of cluster ci (1-based)."""
    if not (1 <= ci <= 250 and 1 <= ni <= 250):
        raise LabError("cluster/node index out of range (1..250)")
    k = ni - 1
    base = ipaddress.ip_address("198.19.0.0") + k * 64
    return {
        "name": "%s-n%d" % (cname, ni),
        "index": ni,
        "ns": "cl-%s-n%d" % (cname, ni),
        "veth": "cl%dn%d" % (ci, ni),
        "ip": "198.18.%d.%d" % (ci, ni),
        "block": "%s/26" % base,
        "vtep": str(base),
        "pod_ip": str(base + 1),
        "mac": "66:ca:1b:%02x:%02x:%02x" % (ci, ni >> 8, ni & 0xFF),
        "role": "control-plane" if ni == 1 else "worker",
    }


def write_file(path, content, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, mode)


def read_file(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return default


def run(cmd, input=None, check=True, timeout=60):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise LabError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def ip_batch(ns, lines, check=True, force=True, tool="ip"):
    """Run many `ip` (or `bridge`) commands in one process, optionally in netns ns."""
    if not lines:
        return None
    cmd = [tool]
    if ns:
        cmd += ["-n", ns]
    if force:
        cmd += ["-force"]
    cmd += ["-batch", "-"]
    return run(cmd, input="\n".join(lines) + "\n", check=check)


def nsexec(ns, argv, check=True, input=None, timeout=60):
    """Run argv in netns ns only (no mount namespace games, cheaper than ip netns exec)."""
    return run(["nsenter", "--net=/run/netns/%s" % ns, "--"] + argv, check=check,
               input=input, timeout=timeout)


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    st = read_file("/proc/%d/stat" % int(pid), "")
    return bool(st) and st.rsplit(")", 1)[-1].split()[0] != "Z"


def read_pid(path):
    try:
        return int(read_file(path, "").strip())
    except ValueError:
        return None


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            out += [int(x) for x in read_file("/proc/%d/task/%s/children" % (pid, tid), "").split()]
    except FileNotFoundError:
        pass
    return out


# ---------------------------------------------------------------- network namespaces in-process
_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
_tls = threading.local()


def setns_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


class netns:
    """Context manager: switch the *calling thread* into netns `name`, and back.

    Sockets created inside keep that namespace after the thread switches back, which lets one
    process own listeners/probes in many node namespaces."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        setns_path("/run/netns/%s" % self.name)
        return self

    def __exit__(self, *a):
        try:
            if _libc.setns(self.home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back failed")
        finally:
            os.close(self.home)


SIOCGIFFLAGS = 0x8913
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
IFF_UP = 0x1


def link_info_here(dev):
    """(exists, up, txcsum_on) for dev in the calling thread's netns, via ioctls."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            r = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sH14x", dev.encode(), 0))
        except OSError:
            return (False, False, False)
        flags = struct.unpack("16sH14x", r)[1]
        buf = array.array("B", struct.pack("II", ETHTOOL_GTXCSUM, 0))
        ifr = struct.pack("16sP", dev.encode(), buf.buffer_info()[0])
        try:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
            csum = struct.unpack("II", buf.tobytes())[1] != 0
        except OSError:
            csum = False
        return (True, bool(flags & IFF_UP), csum)
    finally:
        s.close()


def link_info(ns, dev):
    with netns(ns):
        return link_info_here(dev)


def json_stream(text):
    """Parse concatenated JSON documents (output of `ip -j -batch`)."""
    dec = json.JSONDecoder()
    i, out = 0, []
    text = text.strip()
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
    return out
