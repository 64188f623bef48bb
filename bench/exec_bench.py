#!/usr/bin/env python3
"""caulk exec vs parallel-ssh vs Ansible on the same lab nodes, same concurrency, same command.

Prints wall-clock and CPU medians of RUNS rounds. caulk's CPU is the server's (read from
/proc/PID/stat before and after) plus the CLI's; the others' is their whole process tree
(rusage of waited-for children, ssh included).

Usage (root, lab up, caulk server running): exec_bench.py CAULK_BIN URL TOKEN SERVER_PID CLUSTER WORKDIR
"""
import os, resource, statistics, subprocess, sys, time

RUNS = int(os.environ.get("RUNS", "3"))
FORKS = 50
COMMAND = "; ".join([
    "hostname",
    "uname -r",
    "cat /proc/sys/kernel/random/boot_id",
    "ip -j link show vxlan.calico >/dev/null",
    "ip -j route show dev vxlan.calico | wc -l",
    "ethtool -k vxlan.calico | grep tx-checksum-ip-generic",
    "sysctl -n net.ipv4.conf.all.rp_filter",
    "head -1 /etc/os-release",
])
KEY = "/run/caulk-lab/id_ed25519"
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def side_by_side(argvs, env=None, server_pid=None):
    """Runs the commands at once; returns wall seconds, CPU seconds (their process trees', plus
    the server's if given) and each one's CompletedProcess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = proc_cpu(server_pid) if server_pid else 0.0
    start = time.monotonic()
    processes = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for argv in argvs]
    done = []
    for argv, process in zip(argvs, processes):
        stdout, stderr = process.communicate()
        done.append(subprocess.CompletedProcess(argv, process.returncode, stdout, stderr))
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if server_pid:
        cpu += proc_cpu(server_pid) - server_before
    return wall, cpu, done


def timed(argv, env=None, server_pid=None):
    wall, cpu, done = side_by_side([argv], env, server_pid)
    return wall, cpu, done[0]


def main():
    caulk, url, token, server_pid, cluster, work = sys.argv[1:7]
    server_pid = int(server_pid)
    hosts = [line.split()[0] for line in open(f"{work}/hosts.txt")]
    n = len(hosts)
    env = dict(os.environ, CAULK_URL=url, CAULK_TOKEN=token)
    ansible_env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_HOST_KEY_CHECKING="True",
                       ANSIBLE_SSH_ARGS=f"-o UserKnownHostsFile={work}/known_hosts -o ControlMaster=no",
                       ANSIBLE_PRIVATE_KEY_FILE=KEY, ANSIBLE_REMOTE_USER="root", ANSIBLE_FORKS=str(FORKS),
                       ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_STDOUT_CALLBACK="minimal",
                       ANSIBLE_LOCAL_TEMP=f"{work}/ansible-tmp", ANSIBLE_HOME=f"{work}/ansible-home")
    caulk_exec = (lambda: timed([caulk, "exec", cluster, "--concurrency", str(FORKS), "--", COMMAND], env, server_pid),
                  lambda out: out.count(" exit 0 "))
    # In rounds, each tool in turn, so all meet the lab in the same state. caulk runs twice in a
    # row: the first connects to every node (the service's kept connections from the round
    # before have expired: it keeps them CAULK_SSH_KEEP_SECONDS, set below the others' run
    # time), the second reuses the connections the first left open.
    tools = [
        ("caulk, connect", caulk_exec),
        ("caulk, kept", caulk_exec),
        ("parallel-ssh", (lambda: timed(["parallel-ssh", "-h", f"{work}/hosts.txt", "-p", str(FORKS), "-l", "root", "-t", "60",
                                         "-o", f"{work}/pssh-out", "-x", f"-i {KEY} -o UserKnownHostsFile={work}/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes",
                                         COMMAND]),
                          lambda out: out.count("[SUCCESS]"))),
        ("ansible", (lambda: timed(["ansible", "all", "-i", f"{work}/ansible.ini", "-m", "shell", "-a", COMMAND], ansible_env),
                     lambda out: out.count("| CHANGED |"))),
    ]
    samples = {name: ([], []) for name, _ in tools}
    for round in range(RUNS):
        for name, (run, count) in tools:
            wall, cpu, done = run()
            ok = count(done.stdout)
            if ok != n:
                print(f"{name}: only {ok}/{n} hosts succeeded (exit {done.returncode}); stderr: {done.stderr[-500:]}", file=sys.stderr)
            samples[name][0].append(wall)
            samples[name][1].append(cpu)
            print(f"round {round + 1}: {name:<15} {wall:6.2f} s wall {cpu:6.2f} s CPU", flush=True)
    results = {name: (statistics.median(walls), statistics.median(cpus)) for name, (walls, cpus) in samples.items()}
    print(f"{n} nodes, concurrency {FORKS}, {RUNS} rounds, medians; command: {COMMAND!r}")
    print(f"{'tool':<15} {'wall s':>8} {'CPU s':>8} {'CPU ms/host':>12}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<15} {wall:8.2f} {cpu:8.2f} {1000 * cpu / n:12.2f}")
    for name in ("caulk, connect", "caulk, kept"):
        wall, cpu = results[name]
        print(f"{name}: {wall / results['parallel-ssh'][0]:.2f}x parallel-ssh (goal <= 0.5), {wall / results['ansible'][0]:.3f}x ansible "
              f"(goal <= 0.1), {1000 * cpu / n:.2f} ms CPU per host (goal <= 2)")


if __name__ == "__main__":
    main()
