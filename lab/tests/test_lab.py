#!/usr/bin/env python3
"""Integration test of caulk-lab: faults and their DESIGN.md repairs over plain ssh and kubectl.

Brings up 1 cluster x 4 nodes (lab1-n2 is the vmxnet3 node), runs every check, tears down.
Prints `N passed, M failed` and exits non-zero on any failure. Needs root; never skips."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "caulk-lab")
STATE = os.environ.setdefault("CAULK_LAB_STATE", "/run/caulk-lab")
KEY = os.path.join(STATE, "id_ed25519")
RESULTS = []
KH = None


def lab(*args, check=False, timeout=300):
    p = subprocess.run([LAB] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("caulk-lab %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def ssh(node_ip, cmd, check=True, timeout=120):
    p = subprocess.run(["ssh", "-i", KEY, "-o", "UserKnownHostsFile=%s" % KH, "-o", "StrictHostKeyChecking=yes",
                        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                        "root@%s" % node_ip, cmd], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("ssh %s %r failed (%d): %s%s" % (node_ip, cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


def cp(cmd, check=True, timeout=120):
    """kubectl on the control-plane node, as an operator would (admin.conf)."""
    return ssh("198.18.1.1", "kubectl --kubeconfig /etc/kubernetes/admin.conf " + cmd, check, timeout)


def ip_of(node):
    return "198.18.1.%s" % node.rsplit("n", 1)[1]


def status_node(node):
    s = json.loads(lab("status", "-o", "json", check=True).stdout)
    for c in s["clusters"]:
        for n in c["nodes"]:
            if n["name"] == node:
                return n
    raise AssertionError("node %s not in status" % node)


def verify(wait=0):
    p = lab("verify", "lab1", "--wait", str(wait), timeout=wait + 60)
    return p.returncode == 0, p.stdout


def check(name):
    def deco(fn):
        t0 = time.time()
        try:
            fn()
            RESULTS.append((name, True, ""))
            print("PASS %-48s %5.1fs" % (name, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none skipped
            RESULTS.append((name, False, str(e)))
            print("FAIL %-48s %5.1fs\n     %s" % (name, time.time() - t0, str(e).replace("\n", "\n     ")), flush=True)
        return fn
    return deco


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def inject_and_confirm(fault, node, verify_fails=True):
    lab("inject", fault, node, check=True)
    time.sleep(0.5)
    f = status_node(node)["faults"]
    expect(fault in f, "status of %s does not show %s: %s" % (node, fault, f))
    if verify_fails:
        ok, out = verify()
        expect(not ok, "verify passed with %s on %s:\n%s" % (fault, node, out))


def repair_device(node):
    """F1/F3 repair from DESIGN.md: delete the link, restart that node's calico-node pod, wait for Felix."""
    ssh(ip_of(node), "ip link del vxlan.calico")
    pod = cp("-n kube-system get pods -l k8s-app=calico-node --field-selector spec.nodeName=%s "
             "-o jsonpath='{.items[0].metadata.name}'" % node).strip()
    expect(pod.startswith("calico-node-"), "no calico-node pod for %s: %r" % (node, pod))
    cp("-n kube-system delete pod %s" % pod)
    for _ in range(40):
        if "vxlan.calico" in ssh(ip_of(node), "ip -br link show", check=False):
            return pod
        time.sleep(0.5)
    raise AssertionError("Felix did not recreate vxlan.calico on %s" % node)


def must_pass(what):
    ok, out = verify(wait=30)
    expect(ok, "verify still fails after %s:\n%s" % (what, out))


def main():
    global KH
    t_start = time.time()
    lab("down")
    t0 = time.time()
    p = lab("up", "--clusters", "1", "--nodes", "4", "--vmxnet3", "0.25", "--felix-interval", "2")
    if p.returncode != 0:
        print("FAIL up: caulk-lab up failed (network namespaces, root or packages missing?)\n%s%s" % (p.stdout, p.stderr))
        print("0 passed, 1 failed")
        return 1
    print("up took %.1fs" % (time.time() - t0))
    kh = tempfile.NamedTemporaryFile("w", delete=False, suffix=".known_hosts")
    kh.write(lab("inventory", "--known-hosts", check=True).stdout)
    kh.close()
    KH = kh.name

    @check("baseline verify passes")
    def _():
        must_pass("up")

    @check("node identity over ssh")
    def _():
        out = ssh("198.18.1.2", "hostname; . /etc/os-release; echo $VERSION_ID; uname -r; ethtool -i eth0 | head -1;"
                                " cat /proc/sys/kernel/random/boot_id; test -w /etc/systemd/system && "
                                "test -w /etc/NetworkManager/conf.d && echo writable; test -f /etc/kubernetes/admin.conf"
                                " && echo cp || echo worker")
        lines = out.split()
        expect(lines[0] == "lab1-n2" and lines[1] == "9.4" and lines[2].startswith("5.14.0"), out)
        expect(lines[3:5] == ["driver:", "vmxnet3"], out)
        expect(lines[-2:] == ["writable", "worker"], out)
        out1 = ssh("198.18.1.1", "hostname; . /etc/os-release; echo $VERSION_ID; uname -r; ethtool -i eth0 | head -1; "
                                 "test -f /etc/kubernetes/admin.conf && echo cp")
        expect(out1.split() == ["lab1-n1", "8.10", "4.18.0-553.16.1.el8_10.x86_64", "driver:", "veth", "cp"], out1)
        bid = {ssh(ip_of("lab1-n%d" % i), "cat /proc/sys/kernel/random/boot_id").strip() for i in range(1, 5)}
        expect(len(bid) == 4, "boot ids not distinct: %s" % bid)

    @check("inventory caulk + ansible formats")
    def _():
        y = lab("inventory", "--format", "caulk", check=True).stdout
        expect("api_endpoint: https://198.18.1.1:6443" in y and "encapsulation: vxlan" in y, y)
        expect(len(re.findall(r'host_key: "SHA256:[A-Za-z0-9+/]{43}"', y)) == 4, y)
        a = lab("inventory", "--format", "ansible", check=True).stdout
        expect("[lab1_control_plane]" in a and "[lab1:vars]" in a and "caulk_host_key=SHA256:" in a, a)
        expect("lab1-n1 ansible_host=198.18.1.1 " in a, a)

    @check("kubectl against the stand-in")
    def _():
        out = cp("get pods -n kube-system -o wide")
        expect(out.count("calico-node-") == 4 and "calico-kube-controllers" in out and "198.18.1.3" in out, out)
        y = cp("get ippools.crd.projectcalico.org -o yaml")
        expect("vxlanMode: Always" in y and "ipipMode: Never" in y, y)
        ds = json.loads(cp("-n kube-system get ds calico-node -o json"))
        expect(ds["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/calico/node:v3.28.2", ds)
        nodes = json.loads(cp("get nodes -o json"))["items"]
        ann = nodes[1]["metadata"]["annotations"]
        expect(ann["projectcalico.org/IPv4VXLANTunnelAddr"] == "198.19.0.64" and
               ann["projectcalico.org/VXLANTunnelMACAddr"] == "66:ca:1b:01:00:02", ann)
        fc = json.loads(cp("get felixconfiguration default -o json"))
        expect(fc["kind"] == "FelixConfiguration", fc)
        cm = json.loads(cp("-n kube-system get configmap calico-config -o json"))
        expect("veth_mtu" in cm["data"], cm)
        logs = cp("-n kube-system logs deploy/calico-kube-controllers --tail=5")
        expect("Starting controller" in logs or "IPAM" in logs, logs)
        cp("-n kube-system rollout restart ds/calico-node")
        st = cp("-n kube-system rollout status ds/calico-node --timeout=90s", timeout=120)
        expect("successfully rolled out" in st, st)
        pods = cp("-n kube-system get pods -l k8s-app=calico-node -o name").split()
        cp("-n kube-system delete %s" % pods[0])
        after = cp("-n kube-system get pods -l k8s-app=calico-node -o name").split()
        expect(pods[0] not in after, "deleted pod still there: %s" % after)
        audit = open(os.path.join(STATE, "clusters", "lab1", "audit.jsonl")).read()
        expect('"verb": "PATCH"' in audit and '"verb": "DELETE"' in audit, audit[-500:])
        must_pass("pod restarts")

    @check("reboot: new boot id, sshd back, datapath kept")
    def _():
        before = ssh("198.18.1.3", "cat /proc/sys/kernel/random/boot_id; uptime -s").split("\n")
        time.sleep(1.1)
        lab("reboot", "lab1-n3", check=True)
        after = ssh("198.18.1.3", "cat /proc/sys/kernel/random/boot_id; uptime -s; cat /proc/uptime").split("\n")
        expect(before[0] != after[0], "boot id unchanged")
        expect(before[1] != after[1], "boot time unchanged: %s %s" % (before, after))
        expect(float(after[2].split()[0]) < 30, "uptime not reset: %s" % after[2])
        must_pass("plain reboot")

    @check("reboot --buggy breaks verify; F4+F1+F2 repairs fix it")
    def _():
        old = ssh("198.18.1.2", "cat /proc/sys/kernel/random/boot_id").strip()
        lab("reboot", "lab1-n2", "--buggy", check=True)
        new = ssh("198.18.1.2", "cat /proc/sys/kernel/random/boot_id").strip()
        expect(old != new, "boot id unchanged")
        f = status_node("lab1-n2")["faults"]
        expect("stale-vxlan" in f and "firewall" in f, f)
        ok, out = verify()
        expect(not ok, "verify passed after buggy reboot")
        expect(ssh("198.18.1.2", "firewall-cmd --query-port=4789/udp", check=False).strip() == "no", "port open?")
        ssh("198.18.1.2", "firewall-cmd --permanent --add-port=4789/udp && firewall-cmd --reload")
        repair_device("lab1-n2")
        # Felix (no override yet) re-created the device with offload ON: vmxnet3 node -> ICMP only
        time.sleep(3)
        ok, out = verify()
        expect(not ok and "F2 fingerprint" in out, "expected F2 (ICMP yes, TCP no) after recreate:\n%s" % out)
        cp("patch felixconfiguration default --type merge -p '{\"spec\":{\"featureDetectOverride\":\"ChecksumOffloadBroken=true\"}}'")
        ssh("198.18.1.2", "ethtool -K vxlan.calico tx-checksum-ip-generic off")
        must_pass("buggy reboot repairs")

    @check("F1 stale-vxlan: inject, detect, repair")
    def _():
        inject_and_confirm("stale-vxlan", "lab1-n3")
        info = json.loads(ssh("198.18.1.3", "ip -d -j link show vxlan.calico"))[0]
        expect("UP" not in info["flags"] and info["linkinfo"]["info_data"]["local"] != "198.18.1.3", info)
        time.sleep(3)  # Felix leaves an existing stale device alone
        expect("stale-vxlan" in status_node("lab1-n3")["faults"], "Felix repaired a stale device")
        repair_device("lab1-n3")
        must_pass("F1 repair")

    @check("F2 offload on vmxnet3: ICMP yes, TCP no; repair")
    def _():
        inject_and_confirm("offload", "lab1-n2")
        ok, out = verify()
        expect("F2 fingerprint" in out, out)
        cp("patch felixconfiguration default --type merge -p '{\"spec\":{\"featureDetectOverride\":\"ChecksumOffloadBroken=true\"}}'")
        ssh("198.18.1.2", "ethtool -K vxlan.calico tx-checksum-ip-generic off")
        must_pass("F2 repair")

    @check("F3 missing routes: inject, detect, repair")
    def _():
        inject_and_confirm("missing-routes", "lab1-n4")
        expect(ssh("198.18.1.4", "ip -j route show dev vxlan.calico").strip() in ("[]", ""), "routes still there")
        repair_device("lab1-n4")
        must_pass("F3 repair")

    @check("F4 firewall: inject, detect, repair")
    def _():
        inject_and_confirm("firewall", "lab1-n3")
        expect(ssh("198.18.1.3", "firewall-cmd --state").strip() == "running", "firewalld not running")
        ssh("198.18.1.3", "firewall-cmd --permanent --add-port=4789/udp && firewall-cmd --reload")
        expect(ssh("198.18.1.3", "firewall-cmd --query-port=4789/udp").strip() == "yes", "port not open")
        must_pass("F4 repair")

    @check("F5 mtu: inject, detect, repair via calico-config + rollout")
    def _():
        inject_and_confirm("mtu", "lab1-n4")
        nic = json.loads(ssh("198.18.1.4", "ip -j link show eth0"))[0]["mtu"]
        cp("-n kube-system patch configmap calico-config --type merge -p '{\"data\":{\"veth_mtu\":\"%d\"}}'" % (nic - 50))
        cp("-n kube-system rollout restart ds/calico-node")
        cp("-n kube-system rollout status ds/calico-node --timeout=120s", timeout=150)
        mtu = json.loads(ssh("198.18.1.4", "ip -j link show vxlan.calico"))[0]["mtu"]
        expect(mtu == nic - 50, "vxlan mtu %s" % mtu)
        must_pass("F5 repair")

    @check("F6 NetworkManager: inject, detect, repair")
    def _():
        inject_and_confirm("nm", "lab1-n2")
        expect(ssh("198.18.1.2", "systemctl is-active NetworkManager").strip() == "active", "NM not active")
        ssh("198.18.1.2", "mkdir -p /etc/NetworkManager/conf.d && printf '[keyfile]\\nunmanaged-devices="
                          "interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;"
                          "interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali\\n'"
                          " > /etc/NetworkManager/conf.d/calico.conf && systemctl reload NetworkManager")
        repair_device("lab1-n2")  # the device NM took down is stale: F1's repair brings it back
        time.sleep(3)             # NM must leave the re-created device alone now
        must_pass("F6 repair")

    @check("F7 rp_filter strict: shown, informational, opt-in change")
    def _():
        inject_and_confirm("rp-filter", "lab1-n1", verify_fails=False)
        ok, out = verify()
        expect(ok, "Calico 3.22+ works with rp_filter=1; verify should pass:\n%s" % out)
        ssh("198.18.1.1", "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.eth0.rp_filter=2")
        expect("rp-filter" not in status_node("lab1-n1")["faults"], "still shown")

    @check("clear restores every node")
    def _():
        for i in range(1, 5):
            lab("clear", "lab1-n%d" % i, check=True)
        for i in range(1, 5):
            expect(status_node("lab1-n%d" % i)["faults"] == [], "faults left on n%d" % i)
        must_pass("clear")

    @check("kube-controllers log shows the i/o timeout pattern while broken")
    def _():
        lab("inject", "stale-vxlan", "lab1-n4", check=True)
        time.sleep(5)
        logs = cp("-n kube-system logs deploy/calico-kube-controllers")
        expect("dial tcp 10.96.0.1:443: i/o timeout" in logs and "Failed to initialize" in logs, logs)
        lab("clear", "lab1-n4", check=True)
        must_pass("clear")

    @check("down leaves nothing behind")
    def _():
        pids = [int(open(os.path.join(STATE, "supervisor.pid")).read())]
        pids += [int(open(os.path.join(STATE, "clusters", "lab1", "agent.pid")).read())]
        pids += [int(open(os.path.join(STATE, "nodes", "lab1-n%d" % i, "pid")).read()) for i in range(1, 5)]
        lab("down", check=True)
        lab("down", check=True)  # idempotent
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        expect("cl-" not in ns, "netns left: %s" % ns)
        links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        expect("caulklab0" not in links and not re.search(r"^cl\d+n\d+", links, re.M), links)
        def alive_pid(p):
            try:
                return open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False
        alive = [p for p in pids if alive_pid(p)]
        expect(not alive, "processes left: %s" % alive)
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        expect("caulk-lab" not in ps and "/run/caulk-lab" not in ps, ps)
        expect("caulk-lab" not in open("/proc/self/mountinfo").read(), "mounts left")
        nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        expect("caulklab" not in nft, nft)
        expect(not os.path.exists(STATE), "state dir left")

    if os.path.exists(os.path.join(STATE, "lab.json")):
        lab("down")
    os.unlink(KH)
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    print("lab tests took %.0fs" % (time.time() - t_start))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
