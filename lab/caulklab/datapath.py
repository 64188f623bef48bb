"""The Calico datapath as Felix programs it, the vmxnet3 offload emulation, and overlay probes."""
import ipaddress
import json
import os
import select
import socket
import struct
import time

from .common import (NIC, NFT_BRIDGE_TABLE, POD_PORT, PROBE_PAYLOAD, VNI, VXLAN_DEV, VXLAN_MTU,
                     VXLAN_PORT, LabError, ip_batch, json_stream, link_info, netns, nsexec, run)


def peers(cluster, node):
    return [p for p in cluster["nodes"] if p["name"] != node["name"]]


def vxlan_create_lines(node, mtu=VXLAN_MTU, local=None, up=True, with_peers=True, peer_list=()):
    """`ip -batch` lines creating vxlan.calico like Felix: VNI 4096, port 4789, local = node IP."""
    lines = [
        "link add %s type vxlan id %d local %s dev %s dstport %d nolearning"
        % (VXLAN_DEV, VNI, local or node["ip"], NIC, VXLAN_PORT),
        "link set %s mtu %d address %s" % (VXLAN_DEV, mtu, node["mac"]),
        "addr add %s/32 dev %s" % (node["vtep"], VXLAN_DEV),
    ]
    if up:
        lines.append("link set %s up" % VXLAN_DEV)
    if with_peers:
        for p in peer_list:
            lines.append("neigh replace %s lladdr %s dev %s nud permanent" % (p["vtep"], p["mac"], VXLAN_DEV))
            lines.append("route replace %s via %s dev %s onlink" % (p["block"], p["vtep"], VXLAN_DEV))
    return lines


def fdb_lines(peer_list):
    return ["fdb replace %s dev %s dst %s self permanent" % (p["mac"], VXLAN_DEV, p["ip"]) for p in peer_list]


def felix_create(cluster, node, offload, mtu=VXLAN_MTU):
    """Create a missing vxlan.calico with routes, neighbours and FDB entries; set offload."""
    ps = peers(cluster, node)
    ip_batch(node["ns"], vxlan_create_lines(node, mtu=mtu, peer_list=ps))
    ip_batch(node["ns"], fdb_lines(ps), tool="bridge")
    set_offload(node, offload)


def set_offload(node, on):
    nsexec(node["ns"], ["ethtool", "-K", VXLAN_DEV, "tx-checksum-ip-generic", "on" if on else "off"],
           check=False)


def ipip_lines(cluster, node):
    """--mode ipip: this kernel has no ipip module; pod blocks are routed natively on the underlay
    (like Calico's IP-in-IP CrossSubnet within one L2 segment). The VTEP/tunnel address sits on lo."""
    lines = ["addr add %s/32 dev lo" % node["vtep"]]
    for p in peers(cluster, node):
        lines.append("route replace %s via %s dev %s" % (p["block"], p["ip"], NIC))
    return lines


# ------------------------------------------------------------------ big-ruleset knob
BIG_TABLE = "kube-proxy-lab"


def big_ruleset(n_rules):
    """A kube-proxy (nftables mode)-like table of n_rules rules. It only ever accepts or counts; nothing in it
    drops or rejects anything (UDP 4789 included), so it never breaks the overlay. Service addresses are in
    198.18.252.0/22 (no lab node uses them)."""
    out = ["table ip %s {" % BIG_TABLE,
           "  comment \"caulk-lab big-ruleset: kube-proxy nftables mode stand-in, %d rules\"" % n_rules,
           "  chain filter-input {",
           "    type filter hook input priority -110; policy accept;",
           "    ct state new ip daddr 198.18.252.0/22 jump services",
           "    ct state established,related counter accept",
           "  }",
           "  chain services {"]
    for k in range(n_rules):
        s = k // 2
        ip = "198.18.%d.%d" % (252 + ((s >> 8) & 3), s & 255)
        port = 1024 + (s % 30000)
        if k % 2 == 0:
            out.append('    ip daddr %s tcp dport %d counter accept comment "default/svc-%d:tcp-%d"' % (ip, port, s, port))
        else:
            out.append('    ip daddr %s udp dport %d counter accept comment "default/svc-%d:udp-%d"' % (ip, port, s, port))
    out += ["  }", "}", ""]
    return "\n".join(out)


def load_big_ruleset(node, n_rules):
    """One `nft -f` per node."""
    nsexec(node["ns"], ["nft", "-f", "-"], input=big_ruleset(n_rules), timeout=300)


# ------------------------------------------------------------------ full-size (don't fragment) pings
def vxlan_mtus(cluster):
    """node name -> MTU a full-size packet from that node is sized for: its vxlan.calico MTU (vxlan mode),
    else its eth0 MTU (ipip clusters route natively). None when the device is missing."""
    dev = VXLAN_DEV if cluster["mode"] == "vxlan" else NIC
    out = {}
    for n in cluster["nodes"]:
        p = run(["ip", "-j", "-n", n["ns"], "link", "show", dev], check=False)
        try:
            out[n["name"]] = json.loads(p.stdout)[0]["mtu"] if p.returncode == 0 else None
        except (ValueError, IndexError, KeyError):
            out[n["name"]] = None
    return out


def full_size_matrix(cluster, mtus=None, wait=2, parallel=48):
    """From every node's netns, `ping -M do -s <sender MTU - 28> -c 1 -W 2 <receiver pod address>`.
    Returns ({(src, dst): bool}, {src: payload size})."""
    import subprocess
    mtus = mtus or vxlan_mtus(cluster)
    jobs = []
    for a in cluster["nodes"]:
        for b in cluster["nodes"]:
            if a is not b:
                jobs.append((a, b))
    res, sizes = {}, {}
    for i in range(0, len(jobs), parallel):
        procs = []
        for a, b in jobs[i:i + parallel]:
            m = mtus.get(a["name"])
            if not m:
                res[(a["name"], b["name"])] = False
                continue
            sizes[a["name"]] = m - 28
            procs.append(((a["name"], b["name"]), subprocess.Popen(
                ["nsenter", "--net=/run/netns/%s" % a["ns"], "--", "ping", "-n", "-q", "-M", "do", "-s", str(m - 28),
                 "-c", "1", "-W", str(wait), b["pod_ip"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        for key, pr in procs:
            try:
                res[key] = pr.wait(timeout=wait + 10) == 0
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait()
                res[key] = False
    return res, sizes


# ------------------------------------------------------------------ vmxnet3 checksum emulation
def nft_bridge_setup():
    rules = """table bridge %s {
  set armed { type ifname; comment "host-side veths of vmxnet3 nodes whose vxlan.calico has tx-checksum-ip-generic on"; }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname @armed udp dport %d @th,312,8 != 1 counter drop comment "inner proto != ICMP: bad checksum after vmxnet3 offload"
  }
}
""" % (NFT_BRIDGE_TABLE, VXLAN_PORT)
    run(["nft", "-f", "-"], input=rules)


def nft_bridge_teardown():
    run(["nft", "delete", "table", "bridge", NFT_BRIDGE_TABLE], check=False)


def armed_set():
    p = run(["nft", "-j", "list", "set", "bridge", NFT_BRIDGE_TABLE, "armed"], check=False)
    if p.returncode != 0:
        return set()
    for item in json.loads(p.stdout).get("nftables", []):
        if "set" in item:
            elems = item["set"].get("elem", [])
            return set(e if isinstance(e, str) else str(e) for e in elems)
    return set()


def sync_offload(nodes, current=None):
    """Arm the drop rule for vmxnet3 nodes exactly while their vxlan.calico has offload on."""
    if current is None:
        current = armed_set()
    add, rem = [], []
    for n in nodes:
        if not n.get("vmxnet3"):
            continue
        try:
            exists, _up, csum = link_info(n["ns"], VXLAN_DEV)
        except OSError:
            continue
        want = exists and csum
        if want and n["veth"] not in current:
            add.append(n["veth"])
        elif not want and n["veth"] in current:
            rem.append(n["veth"])
    if add:
        run(["nft", "add", "element", "bridge", NFT_BRIDGE_TABLE, "armed", "{ %s }" % ", ".join(add)], check=False)
    if rem:
        run(["nft", "delete", "element", "bridge", NFT_BRIDGE_TABLE, "armed", "{ %s }" % ", ".join(rem)], check=False)
    return add, rem


# ------------------------------------------------------------------ probes across the overlay
def _icmp_packet(ident, seq):
    payload = b"caulk-lab-probe!"
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    data = hdr + payload
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) + (data[i + 1] if i + 1 < len(data) else 0)
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    csum = ~s & 0xFFFF
    return struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload


def probe_matrix(cluster, timeout=1.5, icmp=True, srcs=None, ring=None):
    """TCP (and ICMP) from every node to every other node's pod address, over the real overlay.

    Returns {(src, dst): {"tcp": bool, "icmp": bool}}. TCP passes only when the whole
    PROBE_PAYLOAD arrives, so MTU black holes (F5) fail too. With ring=k each node only probes the
    k nodes after it (cyclically): what the agents use to keep an idle fleet cheap."""
    nodes = cluster["nodes"]
    srcs = srcs or nodes
    res = {}
    conns = {}   # fd -> [sock, key, bytes]
    raws = {}    # fd -> (sock, src node)
    by_ip = {n["pod_ip"]: n for n in nodes}
    for s in srcs:
        try:
            with netns(s["ns"]):
                socks = []
                si = nodes.index(s)
                for j, d in enumerate(nodes):
                    if d is s:
                        continue
                    if ring is not None and (j - si) % len(nodes) > ring:
                        continue
                    sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sk.setblocking(False)
                    socks.append((sk, d))
                rs = None
                if icmp:
                    rs = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                    rs.setblocking(False)
        except OSError:
            for d in nodes:
                if d is not s and ring is None:
                    res[(s["name"], d["name"])] = {"tcp": False, "icmp": False}
            continue
        for sk, d in socks:
            key = (s["name"], d["name"])
            res[key] = {"tcp": False, "icmp": False}
            try:
                sk.connect_ex((d["pod_ip"], POD_PORT))
            except OSError:
                sk.close()
                continue
            conns[sk.fileno()] = [sk, key, 0]
            if rs is not None:
                try:
                    rs.sendto(_icmp_packet(0x4000 + s["index"], d["index"]), (d["pod_ip"], 0))
                except OSError:
                    pass
        if rs is not None:
            raws[rs.fileno()] = (rs, s)
    deadline = time.monotonic() + timeout
    poller = select.poll()
    for fd in conns:
        poller.register(fd, select.POLLIN | select.POLLOUT | select.POLLERR | select.POLLHUP)
    for fd in raws:
        poller.register(fd, select.POLLIN)
    pending = set(conns)
    while pending or (raws and time.monotonic() < deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, ev in poller.poll(min(left, 0.2) * 1000):
            if fd in raws:
                rs, s = raws[fd]
                try:
                    while True:
                        pkt, addr = rs.recvfrom(2048)
                        ihl = (pkt[0] & 0xF) * 4
                        typ, _c, _s, ident, seq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
                        d = by_ip.get(addr[0])
                        if typ == 0 and d is not None and ident == 0x4000 + s["index"] and seq == d["index"]:
                            res[(s["name"], d["name"])]["icmp"] = True
                except (BlockingIOError, struct.error):
                    pass
                continue
            c = conns.get(fd)
            if c is None or fd not in pending:
                continue
            sk = c[0]
            if ev & select.POLLOUT and not ev & select.POLLIN:
                err = sk.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    pending.discard(fd)
                    poller.unregister(fd)
                    continue
                poller.modify(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
                continue
            try:
                data = sk.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                c[2] += len(data)
                continue
            if c[2] >= PROBE_PAYLOAD:
                res[c[1]]["tcp"] = True
            pending.discard(fd)
            poller.unregister(fd)
        if not pending and raws:
            # all TCP done: give ICMP replies a short grace period only
            if all(res[k]["icmp"] for k in res if k[0] in {s["name"] for s in srcs}):
                break
            deadline = min(deadline, time.monotonic() + 0.3)
    for c in conns.values():
        if c[2] >= PROBE_PAYLOAD and not res[c[1]]["tcp"]:
            res[c[1]]["tcp"] = True
        c[0].close()
    for rs, _ in raws.values():
        rs.close()
    return res


def node_health(cluster, matrix):
    """A node's datapath is judged broken when more than half of its peer pairs fail TCP."""
    out = {}
    for n in cluster["nodes"]:
        ps = peers(cluster, n)
        if not ps:
            out[n["name"]] = True
            continue
        bad = total = 0
        for p in ps:
            for k in ((n["name"], p["name"]), (p["name"], n["name"])):
                if k in matrix:
                    total += 1
                    bad += 0 if matrix[k]["tcp"] else 1
        out[n["name"]] = bad * 2 <= total if len(ps) > 1 else bad == 0
    return out


# ------------------------------------------------------------------ inspection for status
def inspect_node(cluster, node, upper_etc):
    """Read-only look at a node's datapath and config, and the faults it shows."""
    info = {"faults": []}
    p = run(["ip", "-d", "-j", "-n", node["ns"], "-batch", "-"],
            input="link show\nroute show\nneigh show\n", check=False)
    try:
        links, routes, neighs = json_stream(p.stdout)[:3]
    except ValueError:
        links, routes, neighs = [], [], []
    lk = {l["ifname"]: l for l in links}
    nic = lk.get(NIC, {})
    vx = lk.get(VXLAN_DEV)
    info["nic_mtu"] = nic.get("mtu")
    ps = peers(cluster, node)
    if cluster["mode"] == "vxlan":
        if vx is None:
            info["vxlan"] = None
            info["faults"].append("missing-vxlan")
        else:
            data = vx.get("linkinfo", {}).get("info_data", {})
            _e, _u, csum = link_info(node["ns"], VXLAN_DEV)
            info["vxlan"] = {"up": "UP" in vx.get("flags", []), "local": data.get("local"),
                             "vni": data.get("id"), "port": data.get("port"), "mtu": vx.get("mtu"),
                             "offload": csum}
            v = info["vxlan"]
            if not v["up"] or v["local"] != node["ip"] or v["vni"] != VNI or v["port"] != VXLAN_PORT:
                info["faults"].append("stale-vxlan")
            if csum:
                info["faults"].append("offload" if node.get("vmxnet3") else "offload-on(harmless:not-vmxnet3)")
            r = [x for x in routes if x.get("dev") == VXLAN_DEV]
            nb = [x for x in neighs if x.get("dev") == VXLAN_DEV]
            fp = run(["bridge", "-j", "-n", node["ns"], "fdb", "show", "dev", VXLAN_DEV], check=False)
            try:
                fdb = [x for x in json.loads(fp.stdout or "[]") if x.get("dst")]
            except ValueError:
                fdb = []
            info["routes"], info["neigh"], info["fdb"] = len(r), len(nb), len(fdb)
            if v["up"] and (len(r) < len(ps) or len(nb) < len(ps) or len(fdb) < len(ps)):
                info["faults"].append("missing-routes")
            if nic.get("mtu") and v["mtu"] > nic["mtu"] - 50:
                info["faults"].append("mtu")
    else:
        r = [x for x in routes if x.get("dev") == NIC and x.get("dst", "").startswith("198.19.")]
        info["routes"] = len(r)
        if len(r) < len(ps):
            info["faults"].append("missing-routes")
        if nic.get("mtu") and nic["mtu"] < 1500:
            info["faults"].append("mtu")
    # only the firewalld table: a node may also hold a huge kube-proxy-like ruleset (big-ruleset knob)
    nfp = run(["nsenter", "--net=/run/netns/%s" % node["ns"], "nft", "list", "table", "inet", "firewalld"],
              check=False)
    nf = nfp.stdout if nfp.returncode == 0 else ""
    fw = "table inet firewalld" in nf
    info["firewalld_table"] = fw
    if fw and ("udp dport %d drop" % VXLAN_PORT) in nf:
        info["faults"].append("firewall")
    nm_active = os.path.exists(os.path.join(upper_etc, "caulk-lab", "NetworkManager.active"))
    conf = os.path.isfile(os.path.join(upper_etc, "NetworkManager", "conf.d", "calico.conf"))
    info["networkmanager"] = {"active": nm_active, "calico_conf": conf}
    if nm_active and not conf:
        info["faults"].append("nm")
    with netns(node["ns"]):
        rpf = {}
        for k in ("all", "default", NIC):
            try:
                with open("/proc/sys/net/ipv4/conf/%s/rp_filter" % k) as f:
                    rpf[k] = int(f.read())
            except OSError:
                rpf[k] = None
    info["rp_filter"] = rpf
    if rpf.get("all") == 1 or rpf.get(NIC) == 1:
        info["faults"].append("rp-filter")
    return info


def in_block(ip, block):
    return ipaddress.ip_address(ip) in ipaddress.ip_network(block)


def require_netns_support():
    """Fail loudly when namespaces cannot be made (never skip)."""
    p = run(["ip", "netns", "add", "cl-selftest"], check=False)
    if p.returncode != 0:
        raise LabError("cannot create network namespaces here (%s): the lab needs root and "
                       "CAP_SYS_ADMIN/CAP_NET_ADMIN" % p.stderr.strip())
    run(["ip", "netns", "del", "cl-selftest"], check=False)
