"""Command line of caulk-lab."""
import argparse
import json
import sys

from .common import LabError


def main(argv):
    ap = argparse.ArgumentParser(prog="caulk-lab", description="caulk test fleet (see lab/README.md)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="bring a fleet up")
    p.add_argument("--clusters", type=int, default=1)
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--calico-version", default="3.28.2")
    p.add_argument("--mode", choices=["vxlan", "ipip"], default="vxlan")
    p.add_argument("--vmxnet3", type=float, default=0.25, metavar="SHARE",
                   help="share of nodes with a (simulated) vmxnet3 NIC, 0..1 (default 0.25, at least one if > 0)")
    p.add_argument("--prefix", default="lab", help="cluster name prefix (clusters are PREFIX1..PREFIXC)")
    p.add_argument("--felix-interval", type=float, default=3.0, help="Felix stand-in resync period, seconds")
    p.add_argument("--variant", action="append", default=[], metavar="CLUSTER:KNOB[,KNOB...]",
                   help="per-cluster knobs (repeatable): fqdn, no-vxlan-mac, big-ruleset[=N], operator, "
                        "calico=X.Y.Z, sudo, sudo-password (see lab/README.md)")
    sub.add_parser("down", help="remove everything (idempotent)")
    p = sub.add_parser("status", help="show the fleet and the faults each node shows")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    p.add_argument("--cluster")
    p = sub.add_parser("verify", help="TCP across the overlay between every node pair + calico-node Ready")
    p.add_argument("cluster")
    p.add_argument("--wait", type=float, default=0.0, help="retry for up to SECONDS until it passes")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    p.add_argument("--json", action="store_const", const="json", dest="output", help="same as -o json")
    p = sub.add_parser("inventory", help="print an inventory with host keys")
    p.add_argument("--format", choices=["caulk", "ansible"], default="caulk")
    p.add_argument("--known-hosts", action="store_true", help="print a known_hosts file instead")
    p = sub.add_parser("inject", help="inject a fault on a node")
    p.add_argument("fault")
    p.add_argument("node")
    p = sub.add_parser("clear", help="restore a node to healthy")
    p.add_argument("node")
    p = sub.add_parser("reboot", help="simulate a reboot (new boot id, sshd restarts)")
    p.add_argument("node")
    p.add_argument("--buggy", action="store_true", help="leave what an unlucky boot leaves (F1, F2, F4)")
    p = sub.add_parser("exec", help="run a shell script as root inside a node (its /etc, hostname and network)")
    p.add_argument("node")
    p.add_argument("script")
    sub.add_parser("_supervise")
    p = sub.add_parser("_agent")
    p.add_argument("cluster")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "_supervise":
            from . import supervisor
            supervisor.main()
            return 0
        if a.cmd == "_agent":
            from . import agent
            agent.main(a.cluster)
            return 0
        from . import fleet
        if a.cmd == "up":
            if not (0 <= a.vmxnet3 <= 1):
                raise LabError("--vmxnet3 is a share between 0 and 1")
            from .common import parse_variants
            parse_variants(a.variant, ["%s%d" % (a.prefix, i) for i in range(1, a.clusters + 1)])
            try:
                fleet.up(a.clusters, a.nodes, a.calico_version, a.mode, a.vmxnet3, a.prefix, a.felix_interval,
                         a.variant)
            except BaseException:
                sys.stderr.write("caulk-lab: up failed; cleaning up\n")
                fleet.down()
                raise
        elif a.cmd == "down":
            fleet.down()
        elif a.cmd == "status":
            s = fleet.status(a.cluster)
            if a.output == "json":
                print(json.dumps(s, indent=1))
            else:
                fleet.print_status(s)
        elif a.cmd == "verify":
            ok, _ = fleet.verify(a.cluster, a.wait, as_json=a.output == "json")
            return 0 if ok else 1
        elif a.cmd == "inventory":
            from . import inventory
            sys.stdout.write(inventory.render(a.format, a.known_hosts))
        elif a.cmd == "inject":
            fleet.inject(a.fault, a.node)
        elif a.cmd == "clear":
            fleet.clear(a.node)
        elif a.cmd == "reboot":
            old, new = fleet.reboot(a.node, a.buggy)
            print("%s rebooted: boot_id %s -> %s" % (a.node, old, new))
        elif a.cmd == "exec":
            from .common import find_node, load_state
            from .node import node_exec
            _c, n = find_node(load_state(), a.node)
            r = node_exec(n, a.script, check=False)
            sys.stdout.write(r.stdout)
            sys.stderr.write(r.stderr)
            return r.returncode
        return 0
    except LabError as e:
        sys.stderr.write("caulk-lab: %s\n" % e)
        return 2
