#!/usr/bin/env python3
"""Integration test of caulk-lab: faults and their repairs over plain ssh and kubectl.

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


def ssh(node_ip, cmd, check=True, timeout=120, user="root", full=False):
    p = subprocess.run(["ssh", "-i", KEY, "-o", "UserKnownHostsFile=%s" % KH, "-o", "StrictHostKeyChecking=yes",
                        "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                        "%s@%s" % (user, node_ip), cmd], capture_output=True, text=True, timeout=timeout)
    if full:
        return p
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


def verify(wait=0, cluster="lab1"):
    p = lab("verify", cluster, "--wait", str(wait), timeout=wait + 60)
    return p.returncode == 0, p.stdout


def verify_json(cluster, wait=0):
    p = lab("verify", cluster, "-o", "json", "--wait", str(wait), timeout=wait + 60)
    d = json.loads(p.stdout)
    expect((p.returncode == 0) == d["ok"], "exit code %d disagrees with ok=%s" % (p.returncode, d["ok"]))
    return d


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
    """F1/F3 repair: delete the link, restart that node's calico-node pod, wait for Felix."""
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
        dns = cp("get pods -A -l k8s-app=kube-dns --field-selector=status.phase=Running -o name").split()
        expect(len(dns) == 4, "probe pods by status.phase, as caulk's audit asks: %s" % dns)
        expect(cp("get pods -A --field-selector=status.phase=Pending -o name").strip() == "", "no pod is Pending")
        r = lab("exec", "lab1-n2", "hostname; cat /etc/hostname")
        expect(r.returncode == 0 and r.stdout.split() == ["lab1-n2", "lab1-n2"], r.stdout + r.stderr)
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
    variant_tests()
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    print("lab tests took %.0fs" % (time.time() - t_start))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------ variants
VARIANT = "lab2:fqdn,no-vxlan-mac,operator,calico=3.27.3,big-ruleset,sudo"


def variant_tests():
    """Small fleet, 3 clusters x 3 nodes: lab1 default, lab2 with every knob but sudo-password, lab3 sudo-password."""
    global KH
    lab("down")

    @check("variant: unknown knob / cluster refused")
    def _():
        p = lab("up", "--clusters", "2", "--nodes", "3", "--variant", "lab2:fqdn,frobnicate")
        expect(p.returncode != 0 and "unknown knob 'frobnicate'" in p.stderr, p.stderr)
        p = lab("up", "--clusters", "2", "--nodes", "3", "--variant", "lab7:fqdn")
        expect(p.returncode != 0 and "unknown cluster 'lab7'" in p.stderr, p.stderr)
        p = lab("up", "--clusters", "2", "--nodes", "3", "--variant", "lab2:big-ruleset=lots")
        expect(p.returncode != 0 and "big-ruleset" in p.stderr, p.stderr)
        expect(not os.path.exists(os.path.join(STATE, "lab.json")), "a refused up left a lab behind")

    t0 = time.time()
    p = lab("up", "--clusters", "3", "--nodes", "3", "--felix-interval", "2", "--variant", VARIANT,
            "--variant", "lab3:sudo-password")
    if p.returncode != 0:
        RESULTS.append(("variant up", False, p.stderr))
        print("FAIL variant up\n     %s%s" % (p.stdout, p.stderr))
        lab("down")
        return
    print("variant up (3x3, %s) took %.1fs" % (VARIANT, time.time() - t0))
    kh = tempfile.NamedTemporaryFile("w", delete=False, suffix=".known_hosts")
    kh.write(lab("inventory", "--known-hosts", check=True).stdout)
    kh.close()
    KH = kh.name

    def cs(cmd, check=True, timeout=120):
        """kubectl on lab2's control plane, as the sudo user."""
        return ssh("198.18.2.1", "sudo -n kubectl --kubeconfig /etc/kubernetes/admin.conf " + cmd, check, timeout,
                   user="caulk")

    def c1(cmd):
        return ssh("198.18.1.1", "kubectl --kubeconfig /etc/kubernetes/admin.conf " + cmd)

    @check("variant: lab.json + status show knobs, default cluster untouched")
    def _():
        st = json.load(open(os.path.join(STATE, "lab.json")))
        c2 = [c for c in st["clusters"] if c["name"] == "lab2"][0]
        expect(c2["variant"] == {"fqdn": True, "no-vxlan-mac": True, "operator": True, "calico": "3.27.3",
                                 "big-ruleset": 20000, "sudo": True}, c2["variant"])
        s = json.loads(lab("status", "-o", "json", check=True).stdout)
        by = {c["name"]: c for c in s["clusters"]}
        expect(by["lab1"]["variant"] == {} and by["lab1"]["namespace"] == "kube-system"
               and by["lab1"]["calico_version"] == "3.28.2" and by["lab1"]["ssh_user"] == "root", by["lab1"])
        expect([n["k8s_name"] for n in by["lab1"]["nodes"]] == ["lab1-n1", "lab1-n2", "lab1-n3"], by["lab1"])
        expect(by["lab2"]["namespace"] == "calico-system" and by["lab2"]["calico_version"] == "3.27.3"
               and by["lab2"]["ssh_user"] == "caulk", by["lab2"])
        expect([n["k8s_name"] for n in by["lab2"]["nodes"]] ==
               ["lab2-n%d.lab.example" % i for i in (1, 2, 3)], by["lab2"]["nodes"])
        expect([n["name"] for n in by["lab2"]["nodes"]] == ["lab2-n1", "lab2-n2", "lab2-n3"], "lab names changed")
        expect(by["lab3"]["variant"] == {"sudo-password": True}, by["lab3"])
        t = lab("status", check=True).stdout
        expect("variant fqdn,no-vxlan-mac,operator,calico=3.27.3,big-ruleset=20000,sudo" in t, t)
        for c in ("lab1", "lab2", "lab3"):
            ok, out = verify(wait=30, cluster=c)
            expect(ok, "verify %s fails on a fresh variant fleet:\n%s" % (c, out))

    @check("variant sudo: root refused, caulk + sudo -n, inventory")
    def _():
        r = ssh("198.18.2.2", "true", check=False, full=True)
        expect(r.returncode != 0 and "Permission denied" in r.stderr, "root login not refused: %s" % r.stderr)
        out = ssh("198.18.2.2", "id -un; sudo -n true && echo sudo-ok; sudo -n id -u; "
                                "sudo -n ip -br link show vxlan.calico; "
                                "ip link set vxlan.calico mtu 1400 2>&1 || echo ip-needs-sudo", user="caulk")
        expect(out.split()[:3] == ["caulk", "sudo-ok", "0"] and "vxlan.calico" in out and "ip-needs-sudo" in out, out)
        r = ssh("198.18.2.1", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes", check=False, user="caulk",
                full=True)
        expect(r.returncode != 0 and "permission denied" in r.stderr, "admin.conf readable without sudo: %s" % r.stderr)
        expect(subprocess.run(["id", "caulk"], capture_output=True).returncode != 0, "user caulk exists on the host")
        expect("caulk:" not in open("/etc/passwd").read(), "host /etc/passwd touched")
        expect(ssh("198.18.1.2", "id -un").strip() == "root", "default cluster is not root")
        y = lab("inventory", "--format", "caulk", check=True).stdout
        blocks = y.split("  - name: ")
        b1, b2 = [b for b in blocks if b.startswith("lab1\n")][0], [b for b in blocks if b.startswith("lab2\n")][0]
        expect("ssh: {user: root," in b1 and "calico_namespace: kube-system" in b1, b1)
        expect("ssh: {user: caulk," in b2 and ", become: root}" in b2 and "calico_namespace: calico-system" in b2, b2)
        expect("become" not in b1, b1)
        a = lab("inventory", "--format", "ansible", check=True).stdout
        expect(re.search(r"^lab2-n2 .*ansible_user=caulk ansible_become=true ansible_become_method=sudo ", a, re.M), a)
        expect(re.search(r"^lab1-n2 .*ansible_user=root ansible_ssh", a, re.M), a)
        expect("caulk_calico_namespace=calico-system" in a and "caulk_calico_namespace=kube-system" in a, a)

    @check("variant sudo-password: sudo -n wants a password")
    def _():
        expect(ssh("198.18.3.2", "true", check=False, full=True).returncode != 0, "root login not refused on lab3")
        r = ssh("198.18.3.2", "id -un; sudo -n true", check=False, user="caulk", full=True)
        expect(r.stdout.strip() == "caulk" and r.returncode != 0 and "a password is required" in r.stderr,
               "%r %r" % (r.stdout, r.stderr))
        out = ssh("198.18.3.2", "echo caulk-lab-sudo | sudo -S -p '' id -u", user="caulk")
        expect(out.strip() == "0", out)

    @check("variant fqdn: hostname, Node names, pods, field selectors")
    def _():
        out = ssh("198.18.2.2", "hostname; cat /etc/hostname /var/lib/calico/nodename", user="caulk")
        expect(out.split() == ["lab2-n2.lab.example"] * 3, out)
        expect(ssh("198.18.1.2", "hostname").strip() == "lab1-n2", "default cluster hostname changed")
        nodes = json.loads(cs("get nodes -o json"))["items"]
        expect([n["metadata"]["name"] for n in nodes] == ["lab2-n%d.lab.example" % i for i in (1, 2, 3)], nodes)
        for n in nodes:
            nm = n["metadata"]["name"]
            expect(n["metadata"]["labels"]["kubernetes.io/hostname"] == nm, n["metadata"]["labels"])
            expect({"type": "Hostname", "address": nm} in n["status"]["addresses"], n["status"]["addresses"])
        pods = json.loads(cs("get pods -A -o json"))["items"]
        expect(len(pods) == 7 and all(p["spec"]["nodeName"].endswith(".lab.example") for p in pods),
               [(p["metadata"]["name"], p["spec"]["nodeName"]) for p in pods])
        sel = cs("get pods -A --field-selector spec.nodeName=lab2-n3.lab.example -o name")
        expect(sorted(sel.split()) == sorted(["pod/coredns-lab-lab2-n3"] + [x for x in sel.split() if "calico-node-" in x])
               and sum("calico-node-" in x for x in sel.split()) == 1, sel)
        expect(cs("get pods -A --field-selector spec.nodeName=lab2-n3 -o name", check=False).strip() == "",
               "short name matched a field selector")
        # F1 repair through the FQDN: delete device, delete that node's pod, Felix re-creates
        ssh("198.18.2.3", "sudo -n ip link del vxlan.calico", user="caulk")
        pod = cs("-n calico-system get pods -l k8s-app=calico-node --field-selector spec.nodeName=lab2-n3.lab.example "
                 "-o jsonpath='{.items[0].metadata.name}'").strip()
        expect(pod.startswith("calico-node-"), pod)
        cs("-n calico-system delete pod %s" % pod)
        for _ in range(40):
            if "vxlan.calico" in ssh("198.18.2.3", "ip -br link show", check=False, user="caulk"):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("Felix did not re-create vxlan.calico on lab2-n3 after its FQDN pod was deleted")
        for _ in range(40):   # the replacement pod shows up ~1 s after the delete, on the FQDN node
            s = status_node("lab2-n3")
            if s["pod"] and s["pod"]["pod"] != pod:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("no replacement calico-node pod for lab2-n3.lab.example: %s" % s["pod"])
        ok, out = verify(wait=30, cluster="lab2")
        expect(ok, out)

    @check("variant no-vxlan-mac: tunnel address, no MAC annotation")
    def _():
        for n in json.loads(cs("get nodes -o json"))["items"]:
            ann = n["metadata"]["annotations"]
            expect("projectcalico.org/IPv4VXLANTunnelAddr" in ann and "projectcalico.org/VXLANTunnelMACAddr" not in ann, ann)
        ann = json.loads(c1("get node lab1-n2 -o json"))["metadata"]["annotations"]
        expect(ann["projectcalico.org/VXLANTunnelMACAddr"] == "66:ca:1b:01:00:02", ann)

    @check("variant calico=3.27.3: images + ClusterInformation")
    def _():
        ds = json.loads(cs("-n calico-system get ds calico-node -o json"))
        expect(ds["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/calico/node:v3.27.3", ds["spec"])
        ci = json.loads(cs("get clusterinformation default -o json"))
        expect(ci["spec"]["calicoVersion"] == "v3.27.3", ci)
        ds1 = json.loads(c1("-n kube-system get ds calico-node -o json"))
        expect(ds1["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/calico/node:v3.28.2", ds1)

    @check("variant operator: calico-system, Installation, MTU patch rolls pods")
    def _():
        expect("calico-system" in cs("get ns -o name"), "no calico-system namespace")
        expect(cs("-n kube-system get ds calico-node", check=False).strip() == "", "calico-node in kube-system")
        r = ssh("198.18.2.1", "sudo -n kubectl --kubeconfig /etc/kubernetes/admin.conf -n calico-system get configmap "
                              "calico-config", check=False, user="caulk", full=True)
        expect(r.returncode != 0 and "NotFound" in r.stderr, r.stderr)
        expect("default" in cs("get installation default"), "get installation")
        inst = json.loads(cs("get installations.operator.tigera.io default -o json"))
        expect(inst["apiVersion"] == "operator.tigera.io/v1" and inst["spec"]["calicoNetwork"]["ipPools"]
               and "mtu" not in inst["spec"]["calicoNetwork"], inst)
        expect(cs("-n calico-system get pods -l k8s-app=calico-kube-controllers -o name").startswith(
            "pod/calico-kube-controllers-"), "kube-controllers not in calico-system")
        before = set(cs("-n calico-system get pods -l k8s-app=calico-node -o name").split())
        cs("patch installation default --type merge -p '{\"spec\":{\"calicoNetwork\":{\"mtu\":1350}}}'")
        st = cs("-n calico-system rollout status ds/calico-node --timeout=90s", timeout=120)
        expect("successfully rolled out" in st, st)
        after = set(cs("-n calico-system get pods -l k8s-app=calico-node -o name").split())
        expect(len(after) == 3 and not (before & after), "pods not rolled: %s -> %s" % (before, after))
        for i in (1, 2, 3):
            m = json.loads(ssh("198.18.2.%d" % i, "ip -j link show vxlan.calico", user="caulk"))[0]["mtu"]
            expect(m == 1350, "lab2-n%d vxlan mtu %s" % (i, m))
        expect(ssh("198.18.2.2", "cat /var/lib/calico/mtu", user="caulk").strip() == "1350", "calico mtu file")
        d = verify_json("lab2", wait=30)
        expect(d["ok"] and all(n["vxlan_mtu"] == 1350 for n in d["nodes"]), d)
        expect(all(p["full_size_bytes"] == 1322 for p in d["pairs"]), d["pairs"])

    @check("variant big-ruleset: MBs of nft JSON, firewall fault beside it, clear keeps it")
    def _():
        size = int(ssh("198.18.2.2", "sudo -n nft -j list ruleset | wc -c", user="caulk"))
        expect(size > 4_000_000, "nft -j list ruleset only %d bytes" % size)
        rules = int(ssh("198.18.2.2", "sudo -n nft -a list chain ip kube-proxy-lab services | grep -c 'accept'",
                        user="caulk"))
        expect(rules == 20000, "%d rules" % rules)
        expect(ssh("198.18.1.2", "nft list tables").strip() == "", "default cluster got a ruleset")
        lab("inject", "firewall", "lab2-n3", check=True)
        time.sleep(0.5)
        expect("firewall" in status_node("lab2-n3")["faults"], "firewall fault not shown")
        ok, out = verify(cluster="lab2")
        expect(not ok, "verify passed with firewall on lab2-n3:\n%s" % out)
        ssh("198.18.2.3", "sudo -n firewall-cmd --permanent --add-port=4789/udp && sudo -n firewall-cmd --reload",
            user="caulk")
        ok, out = verify(wait=30, cluster="lab2")
        expect(ok, "firewall repair beside the big ruleset:\n%s" % out)
        lab("clear", "lab2-n3", check=True)
        tables = ssh("198.18.2.3", "sudo -n nft list tables", user="caulk").split("\n")
        expect("table ip kube-proxy-lab" in tables and "table inet firewalld" not in tables, tables)
        expect(status_node("lab2-n3")["faults"] == [], status_node("lab2-n3")["faults"])

    @check("verify full-size: F5 caught, passes again at MTU 1350")
    def _():
        d = verify_json("lab1")
        expect(d["ok"] and all(p["full_size"] and p["tcp"] and p["icmp"] for p in d["pairs"])
               and all(n["ready"] for n in d["nodes"]) and d["pairs"][0]["full_size_bytes"] == 1422, d)
        lab("inject", "mtu", "lab1-n3", check=True)
        d = verify_json("lab1")
        fs = {(p["src"], p["dst"]): p["full_size"] for p in d["pairs"]}
        expect(not d["ok"] and not fs[("lab1-n1", "lab1-n3")] and not fs[("lab1-n2", "lab1-n3")]
               and fs[("lab1-n1", "lab1-n2")] and fs[("lab1-n2", "lab1-n1")], d)
        ok, out = verify(cluster="lab1")
        expect(not ok and "full-size 2/6 pairs" in out and "TI-" in out and "FAIL lab1-n1 -> lab1-n3 full-size" in out,
               out)
        c1("-n kube-system patch configmap calico-config --type merge -p '{\"data\":{\"veth_mtu\":\"1350\"}}'")
        c1("-n kube-system rollout restart ds/calico-node")
        c1("-n kube-system rollout status ds/calico-node --timeout=120s")
        d = verify_json("lab1", wait=30)
        expect(d["ok"] and all(p["full_size"] for p in d["pairs"]) and all(n["vxlan_mtu"] == 1350 for n in d["nodes"]), d)
        lab("clear", "lab1-n3", check=True)

    @check("variant down leaves nothing behind")
    def _():
        lab("down", check=True)
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        expect("cl-" not in ns, "netns left: %s" % ns)
        nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        expect("caulklab" not in nft and "kube-proxy-lab" not in nft, nft)
        links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        expect("caulklab0" not in links and not re.search(r"^cl\d+n\d+", links, re.M), links)
        expect(not os.path.exists(STATE), "state dir left")
        expect(subprocess.run(["id", "caulk"], capture_output=True).returncode != 0, "user caulk on the host")

    if os.path.exists(os.path.join(STATE, "lab.json")):
        lab("down")
    os.unlink(KH)


if __name__ == "__main__":
    sys.exit(main())
