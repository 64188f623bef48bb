#!/usr/bin/env python3
"""A whole fleet at once: every cluster's `caulk exec` side by side against parallel-ssh over every
node, and `caulk audit --all` against one `caulk exec` of the audit's own node commands (with the
probe) on every cluster side by side.

Prints wall-clock, CPU (the caulk server's and CLIs'; parallel-ssh's whole process tree), CPU per
node, the server's peak RSS, and the ratios the scaling goals are about.

Usage (root, lab up, caulk server running):
    fleet_bench.py CAULK_BIN URL TOKEN SERVER_PID WORKDIR CLUSTER...
"""
import json, os, sys

from audit_bench import COMMAND as AUDIT_COMMAND, PROBE
from exec_bench import COMMAND as DIAGNOSTICS, KEY, side_by_side

CONCURRENCY = int(os.environ.get("CONCURRENCY", "64"))


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def busy_cpu():
    """CPU seconds every core has spent busy since boot (/proc/stat), whoever it was for."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def exec_ok(outputs):
    """Hosts whose command ran, over every cluster's `caulk exec -o json`."""
    ok = total = 0
    for done in outputs:
        try:
            hosts = json.loads(done.stdout)["hosts"]
        except (ValueError, KeyError):
            print(f"  exec output unreadable: {done.stderr[-300:]}", file=sys.stderr)
            continue
        total += len(hosts)
        ok += sum(1 for host in hosts if host["outcome"] in ("ok", "failed"))
    return ok, total


def main():
    caulk, url, token, server_pid, work = sys.argv[1:6]
    clusters = sys.argv[6:]
    server_pid = int(server_pid)
    env = dict(os.environ, CAULK_URL=url, CAULK_TOKEN=token)
    hosts = [line.split()[0] for line in open(f"{work}/hosts.txt")]
    n = len(hosts)
    rows = {}

    def execs(command):
        return [[caulk, "exec", cluster, "--concurrency", str(CONCURRENCY), "-o", "json", "--", command] for cluster in clusters]

    busy = busy_cpu()
    wall, cpu, outputs = side_by_side(execs(DIAGNOSTICS), env, server_pid)
    # What the lab's nodes spent (sshd and the command): the same for any tool, and on this
    # machine it shares the cores with the tool.
    nodes_cpu = busy_cpu() - busy - cpu
    ok, total = exec_ok(outputs)
    print(f"  caulk exec: {ok}/{total} nodes ran the diagnostics", file=sys.stderr)
    rows["caulk exec (diagnostics)"] = (wall, cpu)

    pssh = ["parallel-ssh", "-h", f"{work}/hosts.txt", "-p", str(CONCURRENCY), "-l", "root", "-t", "120", "-o", f"{work}/pssh-out",
            "-x", f"-i {KEY} -o UserKnownHostsFile={work}/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes", DIAGNOSTICS]
    wall, cpu, outputs = side_by_side([pssh], None, None)
    print(f"  parallel-ssh: {outputs[0].stdout.count('[SUCCESS]')}/{n} nodes", file=sys.stderr)
    rows["parallel-ssh (diagnostics)"] = (wall, cpu)

    wall, cpu, outputs = side_by_side(execs(AUDIT_COMMAND + "\n" + PROBE), env, server_pid)
    ok, total = exec_ok(outputs)
    print(f"  caulk exec of the audit's node commands: {ok}/{total} nodes", file=sys.stderr)
    rows["caulk exec (audit's commands)"] = (wall, cpu)

    wall, cpu, outputs = side_by_side([[caulk, "audit", "--all", "--concurrency", str(CONCURRENCY), "--progress", "none", "-o", "json"]], env, server_pid)
    stdout, stderr, status = outputs[0].stdout, outputs[0].stderr, outputs[0].returncode
    audited, states = 0, {}
    try:
        for detail in json.loads(stdout):
            for node in detail["audit"]["nodes"]:
                audited += 1
                states[node["health"]] = states.get(node["health"], 0) + 1
    except (ValueError, KeyError, TypeError):
        print(f"  audit output unreadable (exit {status}): {stderr[-500:]}", file=sys.stderr)
    print(f"  caulk audit --all: {audited}/{n} nodes audited {states} (exit {status})", file=sys.stderr)
    rows["caulk audit --all"] = (wall, cpu)

    print(f"{n} nodes in {len(clusters)} clusters, concurrency {CONCURRENCY}, {os.cpu_count()} CPUs")
    print(f"{'':<30} {'wall s':>8} {'CPU s':>8} {'CPU ms/node':>12}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<30} {wall:8.2f} {cpu:8.2f} {1000 * cpu / max(n, 1):12.2f}")
    print("(CPU: caulk's server and CLIs, or parallel-ssh's process tree with its ssh clients; not the nodes')")
    print(f"exec / parallel-ssh wall: {rows['caulk exec (diagnostics)'][0] / rows['parallel-ssh (diagnostics)'][0]:.2f}x (goal <= 0.3)")
    floor = nodes_cpu / os.cpu_count()
    print(f"  the nodes' own CPU during caulk exec (sshd and the command, all tools pay it): {nodes_cpu:.1f} s; "
          f"on {os.cpu_count()} shared cores no tool finishes under {floor:.1f} s = {floor / rows['parallel-ssh (diagnostics)'][0]:.2f}x parallel-ssh")
    print(f"audit --all / exec of its node commands wall: {rows['caulk audit --all'][0] / rows['caulk exec (audit' + chr(39) + 's commands)'][0]:.2f}x (goal <= 1.5)")
    print(f"nodes audited: {audited}/{n}; server peak RSS {peak_rss_mb(server_pid):.0f} MB (goal <= 400)")


if __name__ == "__main__":
    main()
