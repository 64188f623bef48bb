#!/usr/bin/env python3
"""caulk audit vs one caulk exec of the audit's node commands (with and without the probe),
same nodes, same concurrency.

Prints wall-clock and CPU (server + CLI) medians of RUNS runs each, and the ratio the Audits
issue sets a goal for (audit wall <= 2x exec wall).

Usage (root, lab up, caulk server running): audit_bench.py CAULK_BIN URL TOKEN SERVER_PID CLUSTER
"""
import json, os, statistics, sys

from exec_bench import timed

RUNS = int(os.environ.get("RUNS", "3"))
CONCURRENCY = 50
# The each-node steps of config/playbooks/calico-vxlan.yaml (all but the probe, which caulk
# builds per node), with {{node_ip}} found on the node instead of rendered by caulk.
NODE_STEPS = [
    "cat /proc/sys/kernel/random/boot_id && cut -d' ' -f1 /proc/uptime",
    "uname -r",
    ". /etc/os-release && echo \"$ID $VERSION_ID\"",
    "ip -d -j addr show",
    "ethtool -i \"$(ip -o -4 addr show to \"$NODE_IP\" | awk '{print $2; exit}')\"",
    "ethtool -k vxlan.calico",
    "ip -j route show dev vxlan.calico",
    "bridge -j fdb show dev vxlan.calico",
    "ip -j neigh show dev vxlan.calico",
    "command -v firewall-cmd >/dev/null || { echo absent; exit 0; }; firewall-cmd --state; firewall-cmd --query-port=4789/udp",
    "nft -j list ruleset",
    "systemctl is-active NetworkManager",
    "cat /etc/NetworkManager/conf.d/calico.conf",
    "sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter",
]
COMMAND = "NODE_IP=$(ip -o -4 addr show dev eth0 | awk '{print $4; exit}' | cut -d/ -f1); " + "; ".join(f"( {s} )" for s in NODE_STEPS)
# The probe step as DatapathProbe.command builds it, to 8 pods (the lab's CoreDNS-like pod of
# nodes 1-8: 198.19.0.0 + 64 (j-1) + 1, TCP 53), as each node probes its next 8 peers.
PROBE = "\n".join(
    ["t=2",
     "s=$(( $(cat /sys/class/net/vxlan.calico/mtu 2>/dev/null || echo 0) - 28 ))",
     "k() { if e=$(timeout \"$t\" bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$1\" \"$2\" 2>&1); then return 0; fi; "
     "case $e in *refused*) return 0;; esac; return 1; }",
     "p() { if ping -c1 -W\"$t\" \"$2\" >/dev/null 2>&1; then i=1; else i=0; fi; "
     "if k \"$2\" \"$3\" || k \"$2\" \"$3\"; then c=1; else c=0; fi; f=-; "
     "if [ \"$s\" -gt 0 ]; then if ping -M do -s \"$s\" -c1 -W\"$t\" \"$2\" >/dev/null 2>&1; then f=1; else f=0; fi; fi; "
     "echo \"$1 $2 $3 $i $c $f\"; }"]
    + [f"p n{j} 198.19.{(j - 1) * 64 // 256}.{(j - 1) * 64 % 256 + 1} 53 &" for j in range(1, 9)]
    + ["wait"])


def main():
    caulk, url, token, server_pid, cluster = sys.argv[1:6]
    env = dict(os.environ, CAULK_URL=url, CAULK_TOKEN=token)
    runs = {
        "caulk exec": [caulk, "exec", cluster, "--concurrency", str(CONCURRENCY), "-o", "json", "--", COMMAND],
        "exec+probe": [caulk, "exec", cluster, "--concurrency", str(CONCURRENCY), "-o", "json", "--", COMMAND + "\n" + PROBE],
        "caulk audit": [caulk, "audit", cluster, "--concurrency", str(CONCURRENCY), "--progress", "none", "-o", "json"],
    }
    results = {}
    nodes = 0
    for name, argv in runs.items():
        walls, cpus = [], []
        for _ in range(RUNS):
            wall, cpu, done = timed(argv, env, int(server_pid))
            detail = json.loads(done.stdout)
            if name == "caulk audit":
                audit = detail[0]["audit"]
                nodes = len(audit["nodes"])
                states = {}
                for node in audit["nodes"]:
                    states[node["health"]] = states.get(node["health"], 0) + 1
                serious = sorted({f["check"] for f in audit["findings"] if f["severity"] != "info"})
                print(f"  audit: {nodes} nodes {states}; checks with warning/critical findings: {serious}", file=sys.stderr)
            else:
                ok = sum(1 for host in detail["hosts"] if host["outcome"] in ("ok", "failed"))
                print(f"  exec: {ok}/{len(detail['hosts'])} nodes ran the commands", file=sys.stderr)
            walls.append(wall)
            cpus.append(cpu)
        print(f"  {name} runs: " + ", ".join(f"{w:.2f} s" for w in walls), file=sys.stderr)
        results[name] = (statistics.median(walls), statistics.median(cpus))
    print(f"{nodes} nodes, concurrency {CONCURRENCY}, {RUNS} runs each, medians")
    print(f"{'':<12} {'wall s':>8} {'CPU s':>8} {'CPU ms/node':>12}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<12} {wall:8.2f} {cpu:8.2f} {1000 * cpu / max(nodes, 1):12.2f}")
    print("(CPU: the caulk server's and CLI's; the nodes' own work is not counted)")
    print(f"audit/exec wall: {results['caulk audit'][0] / results['caulk exec'][0]:.2f}x without the probe, "
          f"{results['caulk audit'][0] / results['exec+probe'][0]:.2f}x with it, i.e. the same commands (goal <= 2)")


if __name__ == "__main__":
    main()
