"""Fleet lifecycle: up, down, status, faults, reboots, verify."""
import concurrent.futures as cf
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

from . import datapath, supervisor
from .common import (BRIDGE, BRIDGE_ADDR, DNS1123, FQDN_DOMAIN, NIC, NIC_MTU, NFT_BRIDGE_TABLE, POD_CIDR,
                     SUDO_USER, VXLAN_DEV, LabError, cluster_dir, find_cluster, find_node, ip_batch, k8s_name,
                     load_state, node_plan, nsexec, parse_variants, pid_alive, read_file, read_pid, run,
                     save_state, state_dir, write_file)
from .node import NM_CONF, new_boot_id, node_exec, node_paths, write_node_files

FAULTS = ["stale-vxlan", "offload", "missing-routes", "firewall", "mtu", "nm", "rp-filter"]
WRONG_LOCAL = "198.18.255.%d"


def log(msg):
    sys.stderr.write("caulk-lab: %s\n" % msg)
    sys.stderr.flush()


def pmap(fn, items, workers=6):
    with cf.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fn, items))


# ---------------------------------------------------------------------------------------- up
def plan(clusters, nodes, version, mode, vmxnet3_share, prefix, variants=None):
    if not DNS1123.match(prefix + "1"):
        raise LabError("prefix %r does not make DNS-1123 names" % prefix)
    out = []
    for ci in range(1, clusters + 1):
        cname = "%s%d" % (prefix, ci)
        ns = []
        for ni in range(1, nodes + 1):
            n = node_plan(cname, ci, ni)
            n["os"] = "rhel9" if ni % 2 == 0 else "rhel8"
            ns.append(n)
        # vmxnet3: a share of the nodes (at least one when share > 0), RHEL 9 workers first (the F2 combination)
        k = int(round(vmxnet3_share * nodes))
        if vmxnet3_share > 0:
            k = max(k, 1)
        order = [n for n in ns if n["os"] == "rhel9" and n["role"] == "worker"] + \
                [n for n in ns if not (n["os"] == "rhel9" and n["role"] == "worker")]
        for n in order[:k]:
            n["vmxnet3"] = True
        for n in ns:
            n.setdefault("vmxnet3", False)
        c = {"name": cname, "index": ci, "calico_version": version, "mode": mode,
             "namespace": "kube-system", "pod_cidr": POD_CIDR,
             "api": "https://%s:6443" % ns[0]["ip"], "nodes": ns}
        out.append(c)
    names = [c["name"] for c in out]
    for cname, v in parse_variants(variants, names).items():
        apply_variant(out[names.index(cname)], v)
    return out


def apply_variant(c, v):
    """Per-cluster knobs (--variant): make the cluster differ from the lab defaults like real fleets do."""
    c["variant"] = v
    if "calico" in v:
        c["calico_version"] = v["calico"]
    if "operator" in v:
        c["namespace"] = "calico-system"
    if "sudo" in v or "sudo-password" in v:
        c["ssh_user"] = SUDO_USER
    if "fqdn" in v:
        for n in c["nodes"]:
            n["k8s_name"] = "%s.%s" % (n["name"], FQDN_DOMAIN)



def make_cert(st):
    sd = state_dir()
    ips = ",".join("IP:%s" % c["nodes"][0]["ip"] for c in st["clusters"])
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", os.path.join(sd, "api-key.pem"), "-out", os.path.join(sd, "api-cert.pem"), "-days", "3650",
         "-subj", "/CN=caulk-lab-apiserver", "-addext", "subjectAltName=%s" % ips,
         "-addext", "basicConstraints=critical,CA:TRUE"])


NEIGH_KEYS = ["net.ipv4.neigh.default.gc_thresh%d" % i for i in (1, 2, 3)]


def raise_neigh_limits():
    """The kernel's ARP table is shared by all namespaces (limits live in the root ns): a fleet of N nodes
    holds ~N*N permanent VXLAN neighbours, far past the default gc_thresh3=1024. Raise the limits while
    the lab is up; the old values are restored by `down`."""
    sd = state_dir()
    saved = os.path.join(sd, "neigh-limits.json")
    old = {k: run(["sysctl", "-n", k]).stdout.strip() for k in NEIGH_KEYS}
    write_file(saved, json.dumps(old))
    run(["sysctl", "-q", "-w"] + ["%s=%d" % (k, max(int(old[k]), v))
                                  for k, v in zip(NEIGH_KEYS, (16384, 65536, 131072))])


def restore_neigh_limits():
    saved = os.path.join(state_dir(), "neigh-limits.json")
    try:
        old = json.loads(read_file(saved, "") or "{}")
    except ValueError:
        old = {}
    if old:
        run(["sysctl", "-q", "-w"] + ["%s=%s" % (k, v) for k, v in old.items()], check=False)


def host_net_up():
    raise_neigh_limits()
    run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=False)
    ip_batch(None, ["addr replace %s dev %s" % (BRIDGE_ADDR, BRIDGE), "link set %s up" % BRIDGE,
                    # pod blocks are only reachable inside the overlay: never let them leave the host
                    "route replace blackhole %s" % POD_CIDR])
    r = run(["ip", "route", "get", "198.18.1.1"]).stdout
    if ("dev %s" % BRIDGE) not in r:
        raise LabError("198.18.0.0/16 does not route to %s (%s): refusing to continue" % (BRIDGE, r.strip()))
    datapath.nft_bridge_setup()


def node_net_up(cluster, n):
    lines = ["link set lo up", "link set %s mtu %d up" % (NIC, NIC_MTU),
             "addr add %s/16 dev %s" % (n["ip"], NIC), "addr add %s/32 dev lo" % n["pod_ip"]]
    ip_batch(n["ns"], lines)
    if cluster["mode"] == "vxlan":
        ps = datapath.peers(cluster, n)
        ip_batch(n["ns"], datapath.vxlan_create_lines(n, peer_list=ps))
        ip_batch(n["ns"], datapath.fdb_lines(ps), tool="bridge")
        # the lab starts "before the reboot that arms F2": devices made by an older Felix, offload off
        datapath.set_offload(n, False)
    else:
        ip_batch(n["ns"], datapath.ipip_lines(cluster, n))
    big = (cluster.get("variant") or {}).get("big-ruleset")
    if big:
        datapath.load_big_ruleset(n, big)


def wait_port(ip, port, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def up(clusters, nodes, version="3.28.2", mode="vxlan", vmxnet3=0.25, prefix="lab", felix_interval=3.0,
       variants=None):
    if load_state(required=False):
        raise LabError("a lab is already up (state in %s); run `caulk-lab down` first" % state_dir())
    if os.geteuid() != 0:
        raise LabError("caulk-lab needs root (network namespaces, bridges, mounts)")
    if mode not in ("vxlan", "ipip"):
        raise LabError("--mode must be vxlan or ipip")
    datapath.require_netns_support()
    t0 = time.time()
    sd = state_dir()
    os.makedirs(sd, exist_ok=True)
    os.chmod(sd, 0o700)
    st = {"version": 1, "created": time.time(), "felix_interval": felix_interval, "probe_interval": 2,
          "restart_period": 10, "clusters": plan(clusters, nodes, version, mode, vmxnet3, prefix, variants)}
    all_nodes = [(c, n) for c in st["clusters"] for n in c["nodes"]]
    save_state(st)
    for c in st["clusters"]:
        os.makedirs(cluster_dir(c["name"]), exist_ok=True)
        write_file(os.path.join(cluster_dir(c["name"]), "audit.jsonl"), "")
    # keys
    key = os.path.join(sd, "id_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "caulk-lab", "-f", key])
    shutil.copy(key + ".pub", os.path.join(sd, "authorized_keys"))
    make_cert(st)

    def files(cn):
        c, n = cn
        os.makedirs(node_paths(n["name"])["dir"], exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + n["name"],
             "-f", node_paths(n["name"])["hostkey"]])
        write_node_files(c, n)
    pmap(files, all_nodes, workers=4)
    t_files = time.time()
    host_net_up()
    lines = []
    for c, n in all_nodes:
        lines += ["netns add %s" % n["ns"],
                  "link add %s type veth peer name %s netns %s" % (n["veth"], NIC, n["ns"]),
                  "link set %s master %s up" % (n["veth"], BRIDGE)]
    ip_batch(None, lines, force=False)
    pmap(lambda cn: node_net_up(*cn), all_nodes, workers=4)
    t_net = time.time()
    start_supervisor()
    r = supervisor.request({"op": "start_nodes", "names": [n["name"] for _c, n in all_nodes]})
    errs = [k for k, v in r.items() if "error" in v]
    if errs:
        raise LabError("nodes failed to start: %s" % errs[:5])
    supervisor.request({"op": "start_agents", "clusters": [c["name"] for c in st["clusters"]]})
    bad = [n["name"] for ok, (_c, n) in zip(pmap(lambda cn: wait_port(cn[1]["ip"], 22, 60), all_nodes, 16),
                                            all_nodes) if not ok]
    if bad:
        raise LabError("sshd did not come up on %s (see %s)" % (bad[:5], node_paths(bad[0])["log"]))
    for c in st["clusters"]:
        if not wait_port(c["nodes"][0]["ip"], 6443, 60):
            raise LabError("kube API of %s did not come up (see %s)" % (c["name"], cluster_dir(c["name"])))
    t_end = time.time()
    vs = ["%s:%s" % (c["name"], ",".join(k if v is True else "%s=%s" % (k, v) for k, v in c["variant"].items()))
          for c in st["clusters"] if c.get("variant")]
    if vs:
        log("variants: %s" % " ".join(vs))
    log("up: %d clusters x %d nodes in %.1fs (files+keys %.1fs, network %.1fs, boot %.1fs)"
        % (clusters, nodes, t_end - t0, t_files - t0, t_net - t_files, t_end - t_net))
    return st


def start_supervisor():
    sd = state_dir()
    me = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "caulk-lab")
    with open(os.path.join(sd, "supervisor.log"), "ab") as f:
        p = subprocess.Popen([sys.executable, me, "_supervise"], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    write_file(os.path.join(sd, "supervisor.pid"), "%d\n" % p.pid)
    for _ in range(100):
        try:
            supervisor.request({"op": "ping"}, timeout=2)
            return
        except OSError:
            time.sleep(0.05)
    raise LabError("supervisor did not start (see %s/supervisor.log)" % sd)


# ---------------------------------------------------------------------------------------- down
def lab_netns():
    p = run(["ip", "netns", "list"], check=False)
    return [l.split()[0] for l in p.stdout.splitlines() if l.startswith("cl-")]


def down():
    """Idempotent: stops every lab process, removes namespaces, links, routes, nft table, state."""
    sd = state_dir()
    st = load_state(required=False)
    sup = read_pid(os.path.join(sd, "supervisor.pid"))
    if pid_alive(sup):
        try:
            supervisor.request({"op": "shutdown"}, timeout=30)
        except (OSError, ValueError):
            pass
        for _ in range(100):
            if not pid_alive(sup):
                break
            time.sleep(0.05)
        if pid_alive(sup):
            os.kill(sup, 9)
    # anything still running inside a lab namespace was started by the lab: stop it by PID
    for ns in lab_netns():
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
    if st:
        for c in st["clusters"]:
            pid = read_pid(os.path.join(cluster_dir(c["name"]), "agent.pid"))
            if pid_alive(pid) and "_agent" in (read_file("/proc/%d/cmdline" % pid, "") or ""):
                os.kill(pid, 9)
    time.sleep(0.1)
    names = lab_netns()
    if names:
        ip_batch(None, ["netns del %s" % n for n in names], check=False)
    run(["ip", "link", "del", BRIDGE], check=False)
    # a deleted netns can outlive its name while the kernel still holds it (e.g. orphaned TCP sockets
    # retransmitting into a lowered MTU): its veth pair then stays, and the next `up` hits "File exists".
    # Deleting the host end removes the pair.
    left = [l.split("@")[0].split()[0] for l in run(["ip", "-br", "link"], check=False).stdout.splitlines()
            if re.match(r"^cl\d+n\d+[@ ]", l)]
    if left:
        ip_batch(None, ["link del %s" % x for x in left], check=False)
    run(["ip", "route", "del", "blackhole", POD_CIDR], check=False)
    datapath.nft_bridge_teardown()
    restore_neigh_limits()
    if os.path.isdir(sd):
        shutil.rmtree(sd, ignore_errors=True)
    left = lab_netns()
    if left:
        raise LabError("namespaces left behind: %s" % left)


# ---------------------------------------------------------------------------------------- status
def api_get(cluster, path, timeout=5):
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir(), "api-cert.pem"))
    ctx.check_hostname = False
    with urllib.request.urlopen(cluster["api"] + path, timeout=timeout, context=ctx) as r:
        return json.loads(r.read())


def pods_by_node(cluster):
    try:
        items = api_get(cluster, "/api/v1/namespaces/%s/pods?labelSelector=k8s-app%%3Dcalico-node"
                        % cluster["namespace"])["items"]
    except OSError as e:
        raise LabError("kube API of %s unreachable: %s" % (cluster["name"], e))
    lab_name = {k8s_name(n): n["name"] for n in cluster["nodes"]}
    out = {}
    for p in items:
        cs = p["status"]["containerStatuses"][0]
        out[lab_name.get(p["spec"]["nodeName"], p["spec"]["nodeName"])] = {"pod": p["metadata"]["name"], "ready": cs["ready"],
                                      "restarts": cs["restartCount"]}
    return out


def status(only=None):
    st = load_state()
    sd = state_dir()
    sup = read_pid(os.path.join(sd, "supervisor.pid"))
    try:
        alive = supervisor.request({"op": "status"}, timeout=5)
    except OSError:
        alive = {"nodes": {}, "agents": {}}
    out = {"state_dir": sd, "supervisor": {"pid": sup, "alive": pid_alive(sup)},
           "ssh": {"user": "root", "port": 22, "key": os.path.join(sd, "id_ed25519")}, "clusters": []}
    for c in st["clusters"]:
        if only and c["name"] != only:
            continue
        try:
            pods = pods_by_node(c)
        except LabError:
            pods = {}
        cd = {"name": c["name"], "api": c["api"], "mode": c["mode"], "calico_version": c["calico_version"],
              "namespace": c["namespace"], "pod_cidr": c["pod_cidr"], "variant": c.get("variant") or {},
              "ssh_user": c.get("ssh_user", "root"),
              "audit_log": os.path.join(cluster_dir(c["name"]), "audit.jsonl"),
              "agent_alive": bool(alive["agents"].get(c["name"])), "nodes": []}

        def one(n, c=c, pods=pods):
            info = datapath.inspect_node(c, n, node_paths(n["name"])["etc"])
            d = {k: n[k] for k in ("name", "ns", "ip", "role", "os", "vmxnet3", "block", "vtep", "pod_ip", "mac")}
            d["k8s_name"] = k8s_name(n)
            d["sshd_alive"] = bool(alive["nodes"].get(n["name"]))
            d["boot_id"] = (read_file(node_paths(n["name"])["boot_id"], "") or "").strip()
            d["pod"] = pods.get(n["name"])
            d.update(info)
            return d
        cd["nodes"] = pmap(one, c["nodes"], workers=6)
        out["clusters"].append(cd)
    return out


def print_status(s):
    print("state dir %s  supervisor pid %s (%s)" % (s["state_dir"], s["supervisor"]["pid"],
                                                   "alive" if s["supervisor"]["alive"] else "DEAD"))
    for c in s["clusters"]:
        print("cluster %s  api %s  mode %s  calico v%s  agent %s  audit %s" % (
            c["name"], c["api"], c["mode"], c["calico_version"], "alive" if c["agent_alive"] else "DEAD",
            c["audit_log"]))
        if c.get("variant"):
            print("  variant %s  (calico namespace %s, ssh user %s)" % (
                ",".join(k if v is True else "%s=%s" % (k, v) for k, v in c["variant"].items()),
                c["namespace"], c.get("ssh_user", "root")))
            if "fqdn" in c["variant"]:
                print("  Kubernetes node names: %s" % " ".join(n["k8s_name"] for n in c["nodes"]))
        print("  %-12s %-15s %-6s %-7s %-4s %-5s %-5s %-8s %s" % ("NODE", "ADDRESS", "OS", "NIC", "SSH", "POD",
                                                                "RST", "VXLAN", "FAULTS"))
        for n in c["nodes"]:
            vx = n.get("vxlan")
            vxs = "-" if vx is None else ("up" if vx["up"] else "DOWN")
            pod = n.get("pod") or {}
            print("  %-12s %-15s %-6s %-7s %-4s %-5s %-5s %-8s %s" % (
                n["name"], n["ip"], n["os"], "vmxnet3" if n["vmxnet3"] else "veth",
                "ok" if n["sshd_alive"] else "DOWN", "Ready" if pod.get("ready") else "-",
                pod.get("restarts", "-"), vxs, ",".join(n["faults"]) or "-"))


# ---------------------------------------------------------------------------------------- faults
def inject(fault, name):
    st = load_state()
    c, n = find_node(st, name)
    if fault not in FAULTS:
        raise LabError("unknown fault %r (one of %s)" % (fault, ", ".join(FAULTS)))
    vx = c["mode"] == "vxlan"
    if fault in ("stale-vxlan", "offload") and not vx:
        raise LabError("%s needs a vxlan cluster" % fault)
    if fault == "stale-vxlan":
        stale_device(n)
    elif fault == "offload":
        datapath.set_offload(n, True)
    elif fault == "missing-routes":
        if vx:
            ip_batch(n["ns"], ["route flush dev %s" % VXLAN_DEV, "neigh flush dev %s nud permanent" % VXLAN_DEV],
                     check=False)
            ip_batch(n["ns"], ["fdb del %s dev %s self" % (p["mac"], VXLAN_DEV) for p in datapath.peers(c, n)],
                     tool="bridge", check=False)
        else:
            ip_batch(n["ns"], ["route del %s" % p["block"] for p in datapath.peers(c, n)], check=False)
    elif fault == "firewall":
        firewall_default(n)
    elif fault == "mtu":
        ip_batch(n["ns"], ["link set %s mtu 1400" % NIC])
    elif fault == "nm":
        node_exec(n, "rm -f /etc/NetworkManager/conf.d/calico.conf; touch /etc/caulk-lab/NetworkManager.active")
        if vx:
            ip_batch(n["ns"], ["link set %s down" % VXLAN_DEV], check=False)  # what the NM stand-in does next
    elif fault == "rp-filter":
        nsexec(n["ns"], ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.default.rp_filter=1",
                         "net.ipv4.conf.%s.rp_filter=1" % NIC])
    datapath.sync_offload([n])


def stale_device(n):
    """F1: the device an unlucky boot leaves: DOWN, wrong VTEP `local`, no routes."""
    for attempt in range(5):
        ip_batch(n["ns"], ["link del %s" % VXLAN_DEV], check=False)
        # -force: a lowered NIC MTU may refuse mtu 1450; the device is stale either way
        p = ip_batch(n["ns"], datapath.vxlan_create_lines(n, local=WRONG_LOCAL % n["index"], up=False,
                                                          with_peers=False), check=False)
        if "File exists" not in (p.stderr or ""):
            return
        time.sleep(0.2)


def firewall_default(n):
    """firewalld running with the image's default zone: 4789/udp (and 179, 5473) not open."""
    node_exec(n, ": > /etc/firewalld/caulk-lab-permanent.ports; touch /etc/caulk-lab/firewalld.active; "
                 "firewall-cmd --reload >/dev/null")


def clear(name):
    st = load_state()
    c, n = find_node(st, name)
    node_exec(n, "rm -f /etc/caulk-lab/firewalld.active; : > /etc/firewalld/caulk-lab-permanent.ports; "
                 ": > /etc/firewalld/caulk-lab-runtime.ports; nft delete table inet firewalld 2>/dev/null; "
                 "mkdir -p /etc/NetworkManager/conf.d; cat > /etc/NetworkManager/conf.d/calico.conf <<'EOF'\n%s"
                 "EOF\ntouch /etc/caulk-lab/NetworkManager.active; true" % NM_CONF)
    nsexec(n["ns"], ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                     "net.ipv4.conf.%s.rp_filter=0" % NIC])
    ip_batch(n["ns"], ["link set %s mtu %d" % (NIC, NIC_MTU)])
    if c["mode"] == "vxlan":
        ps = datapath.peers(c, n)
        for attempt in range(5):
            # the Felix stand-in may re-create the device between our delete and create: retry
            ip_batch(n["ns"], ["link del %s" % VXLAN_DEV], check=False)
            if ip_batch(n["ns"], datapath.vxlan_create_lines(n, peer_list=ps), check=False).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise LabError("could not re-create %s on %s" % (VXLAN_DEV, name))
        ip_batch(n["ns"], datapath.fdb_lines(ps), tool="bridge")
        datapath.set_offload(n, False)
    else:
        ip_batch(n["ns"], datapath.ipip_lines(c, n), check=False)
    datapath.sync_offload([n])


def reboot(name, buggy=False):
    st = load_state()
    c, n = find_node(st, name)
    old = (read_file(node_paths(name)["boot_id"], "") or "").strip()
    supervisor.request({"op": "stop_node", "name": name})
    end = time.time() + 10
    while time.time() < end and wait_port(n["ip"], 22, 0.05):
        time.sleep(0.05)   # the old sshd's socket must be gone before the node boots again
    new_boot_id(n)
    if buggy and c["mode"] == "vxlan":
        stale_device(n)                 # F1: stale, DOWN device with the wrong VTEP
        datapath.set_offload(n, True)   # F2: offload re-armed (kernel default for a new vxlan device)
    r = supervisor.request({"op": "start_nodes", "names": [name]})
    if "error" in r.get(name, {}):
        raise LabError("reboot of %s failed: %s" % (name, r[name]["error"]))
    if not wait_port(n["ip"], 22, 30):
        raise LabError("sshd on %s did not come back" % name)
    if buggy:
        firewall_default(n)             # F4: firewalld re-applied its default zone at boot
    datapath.sync_offload([n])
    new = (read_file(node_paths(name)["boot_id"], "") or "").strip()
    return old, new


# ---------------------------------------------------------------------------------------- verify
def verify(cname, wait=0.0, quiet=False, as_json=False):
    """TCP (8 KiB must arrive), ICMP and a full-size don't-fragment ping (sender's vxlan.calico MTU - 28 bytes)
    between every ordered node pair over the overlay, plus calico-node readiness from the API."""
    st = load_state()
    c = find_cluster(st, cname)
    end = time.time() + wait
    api_err = None
    while True:
        m = datapath.probe_matrix(c, timeout=2.0, icmp=True)
        mtus = datapath.vxlan_mtus(c)
        fs, sizes = datapath.full_size_matrix(c, mtus)
        for k, v in m.items():
            v["full_size"] = fs.get(k, False)
        try:
            pods = pods_by_node(c)
            api_err = None
        except LabError as e:
            pods = {}
            api_err = str(e)
        tcp_ok = all(v["tcp"] for v in m.values())
        fs_ok = all(v["full_size"] for v in m.values())
        not_ready = [n["name"] for n in c["nodes"] if not (pods.get(n["name"]) or {}).get("ready")]
        ok = tcp_ok and fs_ok and not not_ready
        if ok or time.time() >= end:
            break
        time.sleep(1.0)
    names = [n["name"] for n in c["nodes"]]
    if as_json:
        out = {"cluster": cname, "ok": ok,
               "summary": {"pairs": len(m), "tcp": sum(v["tcp"] for v in m.values()),
                           "icmp": sum(v["icmp"] for v in m.values()),
                           "full_size": sum(v["full_size"] for v in m.values()),
                           "ready": len(names) - len(not_ready), "nodes": len(names)},
               "nodes": [{"name": n["name"], "k8s_name": k8s_name(n), "ready": n["name"] not in not_ready,
                          "pod": (pods.get(n["name"]) or {}).get("pod"), "vxlan_mtu": mtus.get(n["name"]),
                          "full_size_bytes": sizes.get(n["name"])} for n in c["nodes"]],
               "pairs": [{"src": a, "dst": b, "tcp": m[(a, b)]["tcp"], "icmp": m[(a, b)]["icmp"],
                          "full_size": m[(a, b)]["full_size"], "full_size_bytes": sizes.get(a)}
                         for a in names for b in names if a != b]}
        if api_err:
            out["api_error"] = api_err
        print(json.dumps(out, indent=1))
        return ok, m
    if not quiet:
        if api_err:
            print(api_err)
        short = [x.rsplit("-", 1)[-1] for x in names]
        print("verify %s: TCP %d/%d pairs, ICMP %d/%d pairs, full-size %d/%d pairs, calico-node Ready %d/%d"
              % (cname, sum(v["tcp"] for v in m.values()), len(m), sum(v["icmp"] for v in m.values()), len(m),
                 sum(v["full_size"] for v in m.values()), len(m), len(names) - len(not_ready), len(names)))
        if len(names) <= 40:
            print("  %-18s " % "tcp/icmp/full-size" + " ".join("%-4s" % s for s in short))
            for a, sa in zip(names, short):
                row = []
                for b in names:
                    if a == b:
                        row.append(" .  ")
                    else:
                        v = m[(a, b)]
                        row.append("%s%s%s " % ("T" if v["tcp"] else "-", "I" if v["icmp"] else "-",
                                                "F" if v["full_size"] else "-"))
                print("  %-18s " % sa + " ".join(row))
        bad = sorted({k for k, v in m.items() if not v["tcp"]})
        for a, b in bad[:20]:
            v = m[(a, b)]
            hint = ""
            if v["icmp"]:
                hint = (" (ICMP ok, TCP fails: F2 fingerprint)" if v.get("full_size", True)
                        else " (ICMP ok, full-size fails: MTU, F5 fingerprint)")
            print("  FAIL %s -> %s tcp/%d%s" % (a, b, 53, hint))
        badfs = sorted(k for k, v in m.items() if not v["full_size"])
        for a, b in badfs[:20]:
            print("  FAIL %s -> %s full-size ping -M do -s %s (sender %s MTU %s)%s"
                  % (a, b, sizes.get(a, "?"), VXLAN_DEV if c["mode"] == "vxlan" else NIC, mtus.get(a),
                     " (TCP ok: MTU black hole, F5 fingerprint)" if m[(a, b)]["tcp"] else ""))
        for n in not_ready:
            print("  NOT READY calico-node on %s" % n)
        print("verify %s: %s" % (cname, "PASS" if ok else "FAIL"))
    return ok, m
