#!/usr/bin/env python3
"""Fill an empty caulk database with a realistic fleet history, for benchmarking caulk's reports.

    bench/history.py --database /tmp/caulk-history-bench/caulk.db --nodes 5000 --days 730

caulk itself creates the schema (`caulk serve` runs once on the file and is stopped), so every
table, CHECK and index is caulk's own; the history is then written straight into SQLite, in time
order, with ids rising with time as caulk would have given them. The same --seed (and --now) gives
the same database.

The fleet
---------
Clusters of 6 to 40 nodes (`prod-eu-03`, `stage-us-01`, ...): one to three control-plane nodes,
the rest workers, addresses in 198.18.0.0/15. Each cluster runs on VMware (NIC driver vmxnet3,
`ens192`) or KVM (virtio_net, `eth0`), a few on both; on RHEL 8.10 (kernel 4.18), RHEL 9.4
(kernel 5.14), or moves from 8 to 9 in one of its patch waves. Calico 3.26.4, 3.27.3, 3.28.0,
3.28.2 or 3.29.1, upgraded zero to two times during the history; VXLAN in most clusters,
IP-in-IP in about a fifth; installed by manifest (kube-system) or by the operator (calico-system).

What happens
------------
- Every cluster has its own schedule: an audit every other day (cron `M H */2 * *`).
- Patch waves about monthly: the nodes reboot a quarter of the cluster at a time. Clusters with the
  auto-repair policy on (about a third, all with the boot beacon) see each reboot through the
  beacon, and the policy audits the cluster two minutes after the last one and repairs it when the
  audit calls for it. In the others the patch pipeline audits after each batch (trigger `api`).
- Unplanned reboots (about one per node every two years): the beacon, or an on-call engineer's
  audit (`cli`) minutes later, or else the next scheduled audit notices them.
- Reboot events are recorded as caulk does: once per boot, by whichever audit or beacon saw it
  first, `run_id` the audit that noticed it.

What fails after a reboot, and why (docs/failure-modes.md)
----------------------------------------------------------
- F2, the big one: Calico 3.28.0, 3.28.2 and later turn VXLAN checksum offload on when the kernel
  is newer than 5.7, at the node's restart; over vmxnet3 TCP then stops crossing the overlay. So a
  reboot of a VXLAN + Calico >= 3.28.0 (not 3.28.1) + RHEL 9 + vmxnet3 node breaks unless
  FelixConfiguration carries featureDetectOverride=ChecksumOffloadBroken=true at that moment.
  offload-off sets it, but in this fleet FelixConfiguration is managed by GitOps: in about half of
  the clusters Argo CD's self-heal reverts caulk's patch within minutes, in a third a periodic sync
  reverts it within days, and only in the rest does it stick (until the next Calico upgrade). That
  is why F2 keeps coming back, on roughly 60% of those reboots, and why those clusters carry the
  F8 warning (will break at the next reboot) most of the time.
- Other VXLAN reboots fail about 10% of the time: firewalld re-applied without 4789/udp (F4; now
  and then a whole patch wave re-applies a firewall baseline to every node), an nftables rule
  dropping 4789 that firewall-open cannot remove (F4, fixed by hand days later), MTU drift on the
  NIC (F5, more on KVM), NetworkManager taking vxlan.calico down where calico.conf is missing (F6 +
  F1; common after a RHEL 8 to 9 reinstall from an image without it, which also leaves an F6
  warning standing), stale peer entries (F3).
- IP-in-IP reboots rarely fail (about 2%): NetworkManager taking tunl0 down, or an overlay failure
  nothing explains (DP), which vxlan-reset cannot fix.
- Each failing audit records what caulk's checks would: the node check's finding, the datapath
  probe's (DP, or filed under F2/F5 by its fingerprint, "explained" when the node's own finding has
  the repair), calico-node not Ready (K8S info), calico-kube-controllers not Ready when a quarter
  of the cluster is broken, F8 for the cluster, F7 (info) on a few hardened nodes with
  rp_filter=1, and now and then an unreachable node (SSH) or a probe that did not finish (UNKNOWN).

Repairs
-------
- calico-recover (sometimes the specific playbook) plans the repairs the audit calls for, runs the
  cluster-wide steps, then node by node (one at a time when disruptive, else 8; auto-repair a
  quarter of the cluster), each step recorded with its real rendered command, output and
  duration, then verifies with the TCP probe, waits for calico-node, and audits again. A failing
  node stops the rollout (max_failures 1). Steps fail now and then (verify, wait-device, a
  FelixConfiguration that cannot be read); firewall-open always fails on the nftables case.
- Auto-repair clusters repair minutes after the reboots (at most twice an hour); elsewhere an
  operator repairs, usually within the hour, sometimes days later (weekends), sometimes after a dry
  run. Failed repairs are retried or fixed by hand days later; a few faults are never fixed.
- Repair previews (--preview-hours): a dashboard job dry-runs calico-recover every 75 minutes on
  each cluster where the latest audit wants some node repaired, until none is. This is the knob
  that gives repair_steps its volume: with the failure rates above real repairs make fewer than one
  step per reboot (about 8,700 repair runs and 85,000 steps at 5000 nodes and 730 days), so at
  that size previews make most of the 10^6 steps, and most of the runs of kind repair. Dry runs
  count in no report (repairs and mttr leave them out), but the repairs report and the dashboard
  still read past them, which costs time: --preview-hours 0 gives a fleet without the job.

What is faked
-------------
- A preview's audit_before_id is the cluster's latest audit (caulk would run a fresh audit).
- Felix turns offload on at a restart on virtio_net nodes too, where caulk files an F2 *info*
  finding ("harmless unless ... vmxnet3") at every audit; those are left out, so that info findings
  do not outnumber the rest, and such nodes show offload off.
- audit_nodes.os (migration 0009) is written only where the schema has it; the facts carry `os`
  either way.
- Step output is short and plausible, not captured; the probe results are consistent with the
  faults but the blame among several broken neighbours is not recomputed.
- Step output older than 90 days is kept (caulk's default retention would have emptied it).
- The inventory does not change (no nodes added or removed over the two years).
"""

import argparse
import base64
import datetime as dt
import hashlib
import heapq
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000

VERSIONS = ["3.26.4", "3.27.3", "3.28.0", "3.28.2", "3.29.1"]
OS = {8: ("rhel 8.10", "4.18.0-553.el8_10.x86_64"), 9: ("rhel 9.4", "5.14.0-427.13.1.el9_4.x86_64")}
NICS = {"vmxnet3": "ens192", "virtio_net": "eth0"}
OPERATORS = ["alice", "bob", "chen", "dana", "erik"]
AUDIT_PLAYBOOK = "calico-vxlan"
RECOVER = "calico-recover"
# calico-recover's repairs in the order it runs them on a node (config/playbooks/calico-recover.yaml).
RECOVER_REPAIRS = ["nm-unmanaged", "firewall-open", "mtu-align", "vxlan-reset", "offload-off"]
# Each repair's steps: (scope, step, runs on the control plane). `verify/tcp-probe` is caulk's own.
REPAIR_STEPS = {
    "offload-off": [("cluster", "felix-override"), ("node", "offload")],
    "firewall-open": [("node", "open-ports"), ("node", "verify")],
    "mtu-align": [("cluster", "cluster-mtu"), ("node", "restart-calico-node"), ("node", "wait-mtu")],
    "vxlan-reset": [("node", "evidence"), ("node", "delete-device"), ("node", "restart-calico-node"), ("node", "wait-device")],
    "nm-unmanaged": [("node", "calico-conf"), ("node", "reload")],
    RECOVER: [("after", "calico-pods-ready")],
}
ON_CONTROL_PLANE = {"restart-calico-node"}
DISRUPTIVE = {"vxlan-reset", "mtu-align"}
PROBE_SCRIPT = r"""s=$(( $(cat /sys/class/net/vxlan.calico/mtu 2>/dev/null || echo 0) - 28 ))
p() { if ping -c1 -W"$t" "$2" >/dev/null 2>&1; then i=1; else i=0; fi; \
if e=$(timeout "$t" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>&1); then c=1; else \
case $e in *refused*) c=1;; *) c=0;; esac; fi; f=-; \
if [ "$s" -gt 0 ]; then if ping -M do -s "$s" -c1 -W"$t" "$2" >/dev/null 2>&1; then f=1; else f=0; fi; fi; \
echo "$1 $2 $3 $i $c $f"; }"""
AUDIT_PARAMETERS = {"kubeconfig": "/etc/kubernetes/admin.conf", "probe_peers": "8", "probe_port": "53",
                    "probe_selector": "k8s-app=kube-dns", "probe_timeout": "2", "vtep_port": "10250"}
# What a fault looks like on the probe, worst first: (tcp, icmp, full size).
PROBE_EFFECT = {"down": (False, False, False), "F2": (False, True, True), "F5": (True, True, False)}
FAULT_PROBE = {"F4": "down", "F4nft": "down", "F6": "down", "F3": "down", "ipip-nm": "down", "ipip-dp": "down",
               "F5": "F5"}


# ---------------------------------------------------------------------------------------------
# Encodings: timestamps as GRDB writes them, JSON as caulk's encoders write it.

_days = {}


def ts(ms):
    """UTC text as GRDB stores a Date: 'YYYY-MM-DD HH:MM:SS.SSS'."""
    seconds, milli = divmod(ms, 1000)
    day, rest = divmod(seconds, 86400)
    prefix = _days.get(day)
    if prefix is None:
        prefix = _days[day] = dt.datetime.fromtimestamp(day * 86400, dt.timezone.utc).strftime("%Y-%m-%d ")
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}"


def api_json(value):
    """CaulkAPI's JSONCoding: snake_case keys (already), sorted, slashes as they are."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def grdb_json(value):
    """GRDB's JSON for Codable columns (run parameters, repair node lists): sorted keys, and
    Foundation's JSONEncoder escapes slashes."""
    return api_json(value).replace("/", "\\/")


def shell_quote(value):
    return "'" + value.replace("'", "'\\''") + "'"


def excerpt(text, lines=10):
    kept = "\n".join(text.split("\n")[:lines])
    if len(kept.encode()) > 2048:
        kept = kept.encode()[:2048].decode(errors="ignore") + "…"
    return kept


# ---------------------------------------------------------------------------------------------
# Repair commands: the playbooks' own step commands, rendered with each node's values.

def load_step_templates(repo):
    """(playbook, step) -> command template, read from config/playbooks/*.yaml (block scalars)."""
    templates = {}
    for playbook in RECOVER_REPAIRS + [RECOVER]:
        try:
            with open(os.path.join(repo, "config", "playbooks", playbook + ".yaml"), encoding="utf-8") as file:
                lines = file.read().split("\n")
        except OSError:
            continue
        step, i = None, 0
        while i < len(lines):
            named = re.match(r"^\s*- name: (\S+)\s*$", lines[i])
            if named:
                step = named.group(1)
            block = re.match(r"^(\s*)command: \|\s*$", lines[i])
            if block and step:
                indent, body = len(block.group(1)), []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i])
                    i += 1
                while body and not body[-1].strip():
                    body.pop()
                cut = min(len(line) - len(line.lstrip()) for line in body if line.strip())
                templates[(playbook, step)] = "\n".join(line[cut:] for line in body) + "\n"
                continue
            i += 1
    return templates


def render(template, values):
    return re.sub(r"\{\{\s*([a-z_0-9]+)\s*\}\}", lambda m: shell_quote(values.get(m.group(1), "")), template)


# ---------------------------------------------------------------------------------------------
# The schema, from caulk itself.

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_schema(caulk, database, token_file):
    """Runs `caulk serve` on the file until /healthz answers, then stops it: the migrations are
    applied and, on a new file, the first admin token is written to `token_file`."""
    if not os.access(caulk, os.X_OK):
        sys.exit(f"history.py: no caulk binary at {caulk} (build it, or give --caulk)")
    port = free_port()
    env = dict(os.environ)
    for kind in ("OUTPUT", "FACTS", "FINDINGS", "RUNS", "EVENTS"):
        env[f"CAULK_RETENTION_{kind}_DAYS"] = "0"
    with tempfile.TemporaryDirectory(prefix="caulk-history-") as work:
        log_path = os.path.join(work, "serve.log")
        with open(log_path, "wb") as log:
            # In a directory of its own, so no ./config/caulk.yaml is picked up.
            server = subprocess.Popen(
                [caulk, "serve", "--database", database, "--listen", f"127.0.0.1:{port}", "--bootstrap-token-file", token_file],
                cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    with open(log_path, encoding="utf-8", errors="replace") as log:
                        sys.exit(f"history.py: caulk serve exited ({server.returncode}) before answering:\n{log.read()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    sys.exit("history.py: caulk serve did not answer /healthz within 60 s")
                time.sleep(0.1)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def refuse_unless_empty(database):
    if not os.path.exists(database):
        return
    db = sqlite3.connect(database)
    try:
        has = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clusters'").fetchone()
        rows = db.execute("SELECT count(*) FROM clusters").fetchone()[0] if has else 0
    finally:
        db.close()
    if rows:
        print(f"history.py: {database} already has {rows} cluster(s); it fills only an empty database "
              "(remove the file, or give another --database)", file=sys.stderr)
        sys.exit(2)


# ---------------------------------------------------------------------------------------------
# The fleet.

class Node:
    __slots__ = ("id", "name", "cluster", "address", "role", "driver", "nic", "os", "boot", "booted", "offload_on", "fault",
                 "fault_token", "sticky", "nm_risk", "rp_strict", "nic_mtu", "vtep", "mac", "pod_ip", "peers", "targets",
                 "incoming", "beacon", "seen_boot", "seen_booted", "last_seen", "restarts", "pod", "facts_head", "facts_tail",
                 "probes_ok", "token_used", "by_hand")


class Cluster:
    __slots__ = ("id", "name", "region", "nodes", "by_name", "encap", "namespace", "versions", "os_plan", "migrate_wave", "auto",
                 "gitops", "override_until", "image_nm_bad", "control_planes", "busy_until", "auto_repairs", "pending_decision",
                 "repair_pending", "preview_on", "pod_base", "vxlan_mtu", "coredns", "facts_cache", "latest", "cron",
                 "last_scheduled", "waves", "ssh_user", "created")

    def version(self, t):
        current = self.versions[0][1]
        for at, version in self.versions:
            if at <= t:
                current = version
        return current


def arming(version):
    """Calico versions that turn VXLAN checksum offload on at a restart (CalicoChecks.offloadArming)."""
    major, minor, patch = (int(part) for part in version.split("."))
    if major != 3:
        return major > 3
    if minor != 28:
        return minor > 28
    return patch != 1


class Run:
    __slots__ = ("id", "kind", "c", "status", "trigger", "requester", "command", "params", "host_count", "start", "end", "playbook",
                 "summary", "before", "after", "dry", "error", "anodes", "findings", "events", "rnodes", "steps", "hosts", "state",
                 "actionable", "called", "message")

    def __init__(self, kind, c, start, trigger, requester, params="{}", playbook=None):
        self.id = None
        self.kind, self.c, self.start, self.trigger, self.requester = kind, c, start, trigger, requester
        self.status, self.command, self.params, self.playbook = "succeeded", None, params, playbook
        self.host_count, self.end, self.summary, self.before, self.after = 0, start, "{}", None, None
        self.dry, self.error, self.state, self.message = 0, None, None, None
        self.anodes, self.findings, self.events, self.rnodes, self.steps, self.hosts = [], [], [], [], [], []
        self.actionable, self.called = {}, []


class Event:
    __slots__ = ("id", "node", "old", "new", "booted", "seen", "source", "run")

    def __init__(self, node, old, new, booted, seen, source, run):
        self.id = None
        self.node, self.old, self.new, self.booted, self.seen, self.source, self.run = node, old, new, booted, seen, source, run


class Decision:
    __slots__ = ("c", "event", "node", "reboots", "due", "decision", "reason", "audit", "repair", "created", "decided")


# ---------------------------------------------------------------------------------------------
# Writing: runs are buffered until every run that could start earlier has been made, then given
# ids in start order, as caulk would have; their rows go out in large executemany batches.

class Writer:
    INSERT = {
        "runs": ["id", "kind", "cluster_id", "cluster_name", "status", "trigger", "requester", "command", "parameters", "host_count",
                 "started_at", "finished_at", "playbook", "summary", "audit_before_id", "audit_after_id", "dry_run", "error"],
        "audit_nodes": ["run_id", "node_id", "node_name", "health", "boot_id", "booted_at", "kernel", "nic_driver", "facts", "error",
                        "finished_at", "calico_version", "encapsulation", "os"],
        "findings": ["run_id", "cluster_name", "node_name", "check_id", "severity", "message", "evidence", "repair", "created_at"],
        "reboot_events": ["id", "node_id", "cluster_name", "node_name", "old_boot_id", "new_boot_id", "booted_at", "seen_at", "source",
                          "run_id"],
        "repair_nodes": ["run_id", "node_id", "node_name", "position", "findings", "repairs", "outcome", "reason", "started_at",
                         "finished_at"],
        "repair_steps": ["run_id", "node_name", "host", "repair", "step", "command", "outcome", "exit_status", "stdout", "stderr",
                         "started_at", "duration_ms"],
        "run_hosts": ["run_id", "node_name", "address", "outcome", "exit_status", "exit_signal", "stdout", "stderr", "stdout_truncated",
                      "stderr_truncated", "error_kind", "error", "host_key", "duration_ms", "finished_at"],
    }
    OPTIONAL = {("audit_nodes", "calico_version"), ("audit_nodes", "encapsulation"), ("audit_nodes", "os"), ("runs", "error")}

    def __init__(self, db):
        self.db = db
        self.columns = {}
        for table, wanted in self.INSERT.items():
            have = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            if not have:
                sys.exit(f"history.py: the database has no table {table}; is --caulk the caulk this script knows?")
            missing = [column for column in wanted if column not in have]
            for column in missing:
                if (table, column) not in self.OPTIONAL:
                    sys.exit(f"history.py: table {table} has no column {column}: this caulk's schema is not the one the script knows")
            self.columns[table] = [i for i, column in enumerate(wanted) if column in have]
        self.sql = {table: f"INSERT INTO {table} ({', '.join(wanted[i] for i in self.columns[table])}) "
                           f"VALUES ({', '.join('?' * len(self.columns[table]))})" for table, wanted in self.INSERT.items()}
        self.project = {table: None if len(keep) == len(self.INSERT[table]) else keep for table, keep in self.columns.items()}
        self.buffers = {table: [] for table in self.INSERT}
        self.pending_runs = []
        self.pending_events = []
        self.seq = 0
        self.next_run = 1
        self.next_event = 1
        self.deferred = []
        self.buffered = 0

    def has(self, table, column):
        return column in (self.INSERT[table][i] for i in self.columns[table])

    def add_run(self, run):
        self.seq += 1
        heapq.heappush(self.pending_runs, (run.start, self.seq, run))

    def add_event(self, event):
        self.seq += 1
        heapq.heappush(self.pending_events, (event.seen, self.seq, event))

    def advance(self, until):
        """Every run and event before `until` is final: give them ids and write them."""
        runs, events = self.pending_runs, self.pending_events
        while runs and runs[0][0] < until:
            self._run(heapq.heappop(runs)[2])
        while events and events[0][0] < until:
            self._event(heapq.heappop(events)[2])
        if self.buffered > 60_000:
            self.flush()

    def _run(self, run):
        run.id = self.next_run
        self.next_run += 1
        c = run.c
        before = run.before.id if run.before is not None else None
        after = run.after.id if run.after is not None else None
        summary = run.summary
        if run.kind == "repair" and ((run.before is not None and before is None) or (run.after is not None and after is None)
                                     or run.message is not None):
            self.deferred.append(run)
        if run.message is not None and run.after is None:
            summary = api_json({"message": run.message, "state": run.state} if run.state else {"message": run.message})
        self.buffers["runs"].append((run.id, run.kind, c.id, c.name, run.status, run.trigger, run.requester, run.command, run.params,
                                     run.host_count, ts(run.start), ts(run.end), run.playbook, summary, before, after, run.dry,
                                     run.error))
        rid = (run.id,)
        if run.anodes:
            self.buffers["audit_nodes"].extend(rid + row for row in run.anodes)
        if run.findings:
            self.buffers["findings"].extend(rid + row for row in run.findings)
        if run.rnodes:
            self.buffers["repair_nodes"].extend(rid + row for row in run.rnodes)
        if run.steps:
            self.buffers["repair_steps"].extend(rid + row for row in run.steps)
        if run.hosts:
            self.buffers["run_hosts"].extend(rid + row for row in run.hosts)
        self.buffered += 1 + len(run.anodes) + len(run.findings) + len(run.rnodes) + len(run.steps) + len(run.hosts)
        for event in run.events:
            self.add_event(event)
        run.anodes = run.findings = run.rnodes = run.steps = run.hosts = run.events = None
        if run.kind == "audit":
            run.summary = None
            if run is not c.latest:
                run.actionable = run.called = None

    def _event(self, event):
        event.id = self.next_event
        self.next_event += 1
        node = event.node
        self.buffers["reboot_events"].append((event.id, node.id, node.cluster.name, node.name, event.old, event.new, ts(event.booted),
                                              ts(event.seen), event.source, event.run.id if event.run is not None else None))
        self.buffered += 1

    def flush(self):
        for table, rows in self.buffers.items():
            if not rows:
                continue
            keep = self.project[table]
            if keep is not None:
                rows = [tuple(row[i] for i in keep) for row in rows]
            self.db.executemany(self.sql[table], rows)
            self.buffers[table] = []
        self.db.commit()
        self.buffered = 0

    def finish(self):
        self.advance(float("inf"))
        self.flush()
        updates = []
        for run in self.deferred:
            after = run.after.id if run.after is not None else None
            summary = run.summary
            if run.message is not None:
                message = run.message.replace("{after}", str(after)) if after is not None else run.message
                summary = api_json({"message": message, "state": run.state} if run.state else {"message": message})
            updates.append((run.before.id if run.before is not None else None, after, summary, run.id))
        self.db.executemany("UPDATE runs SET audit_before_id = ?, audit_after_id = ?, summary = ? WHERE id = ?", updates)
        self.db.commit()


# ---------------------------------------------------------------------------------------------
# The simulation.

class History:
    def __init__(self, args, db, writer, now):
        self.args = args
        self.db = db
        self.w = writer
        self.rng = random.Random(args.seed)
        self.now = now
        self.start = now - args.days * DAY
        self.templates = load_step_templates(REPO)
        self.commands = {}
        self.events = []
        self.seq = 0
        self.clusters = []
        self.decisions = []
        self.node_tokens = []
        self.has_os = writer.has("audit_nodes", "os")
        self.audit_params = grdb_json(AUDIT_PARAMETERS)
        self.counts = {"reboots": 0, "prone_reboots": 0, "f2_reboots": 0, "faulty_reboots": 0}

    # --- helpers ---------------------------------------------------------------------------

    def uuid(self):
        value = self.rng.getrandbits(128)
        value = (value & ~(0xF << 76)) | (4 << 76)
        value = (value & ~(0x3 << 62)) | (0x2 << 62)
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def pod_suffix(self):
        return "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))

    def quota(self, values, weights, count):
        """`count` values in the proportions of `weights` (largest remainder), shuffled."""
        exact = [w * count / sum(weights) for w in weights]
        counts = [int(x) for x in exact]
        for i in sorted(range(len(values)), key=lambda i: counts[i] - exact[i])[:count - sum(counts)]:
            counts[i] += 1
        out = [value for value, k in zip(values, counts) for _ in range(k)]
        self.rng.shuffle(out)
        return out

    def push(self, at, kind, c, payload=None):
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, c, payload))

    def operator(self):
        return self.rng.choice(OPERATORS)

    # --- inventory -------------------------------------------------------------------------

    def build_fleet(self):
        rng, total = self.rng, self.args.nodes
        sizes = []
        while sum(sizes) < total:
            bucket = rng.random()
            size = rng.randint(6, 10) if bucket < 0.3 else rng.randint(11, 25) if bucket < 0.75 else rng.randint(26, 40)
            sizes.append(min(size, total - sum(sizes)))
        if len(sizes) > 1 and sizes[-1] < 6:
            rest = sizes.pop()
            sizes[-1] += rest
        # Each cluster property comes from a shuffled list in the intended proportions (not an
        # independent draw per cluster), so that a small fleet has the mix of a large one.
        quota = lambda values, weights: self.quota(values, weights, len(sizes))
        encaps = quota(["vxlan", "ipip"], [0.8, 0.2])
        namespaces = quota(["kube-system", "calico-system"], [0.6, 0.4])
        firsts = quota(range(5), [0.3, 0.3, 0.2, 0.15, 0.05])
        os_plans = quota(["rhel9", "rhel8", "migrate"], [0.45, 0.25, 0.3])
        autos = quota([True, False], [0.35, 0.65])
        gitops = quota(["selfheal", "sync", "none"], [0.55, 0.3, 0.15])
        nm_bad = quota([True, False], [0.4, 0.6])
        platforms = quota(["vmware", "kvm", "mixed"], [0.62, 0.3, 0.08])
        numbers = {}
        address = 0
        node_id = 0
        for index, size in enumerate(sizes):
            env = rng.choices(["prod", "stage", "dev"], [0.6, 0.25, 0.15])[0]
            region = rng.choices(["eu", "us", "ap"], [0.45, 0.4, 0.15])[0]
            numbers[(env, region)] = numbers.get((env, region), 0) + 1
            c = Cluster()
            c.id, c.name, c.region = index + 1, f"{env}-{region}-{numbers[(env, region)]:02d}", region
            c.encap = encaps[index]
            c.namespace = namespaces[index]
            first = firsts[index]
            c.versions = [(0, VERSIONS[first])]
            level = first
            for at in sorted(rng.uniform(self.start, self.now) for _ in range(rng.choices([0, 1, 2], [0.35, 0.45, 0.2])[0])):
                if level >= len(VERSIONS) - 1:
                    break
                level = min(len(VERSIONS) - 1, level + rng.choice([1, 1, 2]))
                c.versions.append((int(at), VERSIONS[level]))
            c.os_plan = os_plans[index]
            c.auto = autos[index]
            c.gitops = gitops[index]
            c.override_until = 0
            c.image_nm_bad = nm_bad[index]
            platform = platforms[index]
            c.busy_until = 0
            c.auto_repairs = []
            c.pending_decision = None
            c.repair_pending = False
            c.preview_on = False
            c.vxlan_mtu = 1450
            c.facts_cache = None
            c.latest = None
            c.waves = 0
            c.ssh_user = rng.choice(["cloud-user", "ansible", "root"])
            c.created = self.start - rng.randint(1, 20) * DAY - rng.randint(0, DAY)
            c.cron = (rng.randint(0, 59), rng.choice([0, 1, 2, 3, 4, 5, 13, 14, 21, 22, 23]))
            c.pod_base = rng.choice([(10, 244), (192, 168), (10, 42), (172, 20)])
            block = address
            address += 64
            control = 3 if size >= 10 else 1
            c.nodes = []
            for k in range(size):
                node_id += 1
                n = Node()
                n.id, n.cluster = node_id, c
                n.role = "control-plane" if k < control else "worker"
                n.name = f"{c.name}-cp{k + 1}" if k < control else f"{c.name}-w{k - control + 1:02d}"
                offset = 198 * 2 ** 24 + 18 * 2 ** 16 + block + k + 1
                n.address = f"{offset >> 24}.{(offset >> 16) & 255}.{(offset >> 8) & 255}.{offset & 255}"
                n.driver = ("vmxnet3" if platform == "vmware" else "virtio_net" if platform == "kvm"
                            else rng.choice(["vmxnet3", "virtio_net"]))
                n.nic = NICS[n.driver]
                n.os = 8 if c.os_plan in ("rhel8", "migrate") else 9
                n.boot = self.uuid()
                n.booted = self.start - rng.randint(1, 60) * DAY - rng.randint(0, DAY)
                n.offload_on = False
                n.fault, n.fault_token, n.sticky = None, 0, False
                n.nm_risk = False
                n.rp_strict = False
                n.nic_mtu = 1500
                third = (k * 64) // 256
                n.vtep = f"{c.pod_base[0]}.{c.pod_base[1]}.{third}.{(k * 64) % 256}" if c.encap == "vxlan" else None
                n.pod_ip = f"{c.pod_base[0]}.{c.pod_base[1]}.{third}.{(k * 64) % 256 + 2}"
                n.mac = "66:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5)) if c.encap == "vxlan" else None
                n.beacon = c.auto and rng.random() < 0.95
                n.seen_boot = n.seen_booted = n.last_seen = None
                n.restarts = rng.randint(0, 2)
                n.pod = f"calico-node-{self.pod_suffix()}"
                n.facts_head = n.facts_tail = n.probes_ok = None
                n.token_used = None
                n.by_hand = False
                c.nodes.append(n)
            c.control_planes = c.nodes[:control]
            c.by_name = {n.name: n for n in c.nodes}
            if rng.random() < 0.12:
                for n in rng.sample(c.nodes, min(len(c.nodes), rng.randint(1, 2))):
                    n.rp_strict = True
            ring = sorted(c.nodes, key=lambda node: node.name)
            c.coredns = [ring[i] for i in sorted(rng.sample(range(len(ring)), min(2, len(ring))))]
            for i, n in enumerate(ring):
                n.peers = [ring[(i + j) % len(ring)] for j in range(1, min(8, len(ring) - 1) + 1)]
                n.incoming = 0
            for n in ring:
                n.targets = []
                for peer in n.peers:
                    if peer in c.coredns:
                        n.targets.append((peer, peer.pod_ip, 53))
                    elif peer.vtep is not None:
                        n.targets.append((peer, peer.vtep, 10250))
            for n in ring:
                for peer, _, _ in n.targets:
                    peer.incoming += 1
            self.clusters.append(c)

    def write_inventory(self):
        db, rng = self.db, self.rng
        clusters, nodes, schedules, policies = [], [], [], []
        for c in self.clusters:
            bastion = f"bastion-{c.region}.example.internal:22" if rng.random() < 0.3 else None
            become = "root" if c.ssh_user != "root" else None
            clusters.append((c.id, c.name, f"https://{c.name}.k8s.example.internal:6443", f"{c.pod_base[0]}.{c.pod_base[1]}.0.0/16",
                             c.encap, c.namespace, c.ssh_user, 22, "/etc/caulk/keys/fleet_ed25519", bastion, ts(c.created),
                             ts(c.created + rng.randint(0, 5) * DAY), become))
            for n in c.nodes:
                labels = grdb_json({"topology.kubernetes.io/zone": f"{c.region}-{1 + n.id % 3}", "rack": f"r{1 + n.id % 12:02d}"})
                key = base64.b64encode(hashlib.sha256(n.name.encode()).digest()).decode().rstrip("=")
                nodes.append((n.id, c.id, n.name, n.address, n.role, labels, None, None, None, None, f"SHA256:{key}",
                              ts(c.created), ts(c.created), None))
            minute, hour = c.cron
            schedules.append([f"audit-{c.name}", f"{minute} {hour} */2 * *", c.id, AUDIT_PLAYBOOK, 0, None, None,
                              rng.choice(OPERATORS), ts(c.created + HOUR), ts(c.created + HOUR)])
            if c.auto:
                policies.append((c.id, 1, 120, 2, 0.25, rng.choice(OPERATORS), ts(c.created + 2 * HOUR)))
        db.executemany("INSERT INTO clusters (id, name, api_endpoint, pod_cidr, encapsulation, calico_namespace, ssh_user, ssh_port, "
                       "ssh_key, bastion, created_at, updated_at, ssh_become) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", clusters)
        db.executemany("INSERT INTO nodes (id, cluster_id, name, address, role, labels, ssh_user, ssh_port, ssh_key, bastion, host_key, "
                       "created_at, updated_at, ssh_become) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", nodes)
        db.executemany("INSERT INTO auto_repair_policies (cluster_id, enabled, delay_seconds, max_per_hour, max_disrupted_share, "
                       "updated_by, updated_at) VALUES (?,?,?,?,?,?,?)", policies)
        self.schedules = schedules
        db.commit()

    # --- node state ------------------------------------------------------------------------

    def prone(self, n, t):
        c = n.cluster
        return c.encap == "vxlan" and n.driver == "vmxnet3" and n.os == 9 and arming(c.version(t))

    def override(self, c, t):
        return t < c.override_until

    def set_override(self, c, t):
        """offload-off patched FelixConfiguration: how long that lasts depends on who else manages it."""
        if c.gitops == "selfheal":
            c.override_until = t + self.rng.randint(5, 20) * MINUTE
        elif c.gitops == "sync":
            c.override_until = t + int(self.rng.uniform(2, 12) * DAY)
        else:
            later = [at for at, _ in c.versions if at > t]
            c.override_until = later[0] if later else self.now + DAY
        c.facts_cache = None

    def set_fault(self, n, fault, t, sticky=False):
        n.by_hand = False
        n.fault = fault
        n.fault_token += 1
        n.sticky = sticky
        n.facts_head = None
        n.cluster.facts_cache = None

    def reboot(self, n, t, wave=None):
        """A new boot: what Felix, firewalld and NetworkManager make of it."""
        rng, c = self.rng, n.cluster
        n.boot = self.uuid()
        n.booted = t
        n.facts_head = None
        c.facts_cache = None
        self.counts["reboots"] += 1
        if wave is not None and wave.get("migrate") and n.os == 8:
            n.os = 9
            if c.image_nm_bad:
                n.nm_risk = True
        faulty = False
        if c.encap == "vxlan":
            if self.prone(n, t):
                self.counts["prone_reboots"] += 1
                n.offload_on = not self.override(c, t)
                if n.offload_on:
                    self.counts["f2_reboots"] += 1
                    faulty = True
            else:
                n.offload_on = False
            keep = n.fault if n.fault in ("F4", "F4nft") else None
            if wave is not None and wave.get("firewall"):
                fault = "F4"
            else:
                roll = rng.random()
                f5 = 0.035 if n.driver == "virtio_net" else 0.01
                f6 = 0.5 if n.nm_risk else 0.012
                if roll < 0.03:
                    fault = "F4"
                elif roll < 0.033:
                    fault = "F4nft"
                elif roll < 0.035 + f5:
                    fault = "F5" if c.vxlan_mtu > 1400 else None
                elif roll < 0.035 + f5 + 0.015:
                    fault = "F3"
                elif roll < 0.05 + f5 + f6:
                    fault = "F6"
                else:
                    fault = None
            fault = fault or keep
            if fault == "F6":
                n.nm_risk = True
            if fault == "F5":
                n.nic_mtu = 1450
            if fault != n.fault or fault is not None:
                self.set_fault(n, fault, t, sticky=n.sticky and fault == n.fault)
            faulty = faulty or fault is not None
        else:
            roll = rng.random()
            fault = "ipip-nm" if roll < 0.012 else "ipip-dp" if roll < 0.02 else None
            if fault == "ipip-dp" and not n.targets and not n.incoming:
                fault = "ipip-nm"  # no probe reaches this node: caulk could not tell
            if fault is not None or n.fault is not None:
                self.set_fault(n, fault, t)
            faulty = fault is not None
        if faulty:
            self.counts["faulty_reboots"] += 1

    def broken(self, n):
        return n.offload_on or (n.fault is not None)

    # --- facts -----------------------------------------------------------------------------

    def probe_json(self, n, effect_of):
        parts = []
        vxlan = n.cluster.encap == "vxlan"
        for peer, address, port in n.targets:
            effect = effect_of(n, peer)
            tcp, icmp, full = PROBE_EFFECT[effect] if effect else (True, True, True)
            full_text = ('"full_size":true,' if full else '"full_size":false,') if vxlan else ""
            parts.append(f'{{"address":"{address}",{full_text}"icmp":{"true" if icmp else "false"},"peer":"{peer.name}",'
                         f'"port":{port},"tcp":{"true" if tcp else "false"}}}')
        return "[" + ",".join(parts) + "]"

    @staticmethod
    def effect(n):
        if n.fault is not None:
            return FAULT_PROBE.get(n.fault)
        if n.offload_on:
            return "F2"
        return None

    def pair_effect(self, a, b):
        ea, eb = self.effect(a), self.effect(b)
        for effect in ("down", "F2", "F5"):
            if ea == effect or eb == effect:
                return effect
        return None

    def node_facts(self, n, t, any_broken):
        c = n.cluster
        if n.facts_head is None:
            os_name, kernel = OS[n.os]
            vxlan = c.encap == "vxlan"
            down = n.fault in ("F6",)
            peers = len(c.nodes) - 1
            missing = 3 if n.fault == "F3" else 0
            firewalld = "running" if (n.fault == "F4" or n.id % 3) and n.fault != "F4nft" else "not running"
            head = {"boot_id": n.boot, "firewalld": firewalld,
                    "kernel": kernel, "network_manager": "active" if n.os == 9 or n.nm_risk else "inactive", "nic": n.nic,
                    "nic_driver": n.driver, "nic_mtu": n.nic_mtu, "os": os_name}
            if vxlan:
                head.update({"fdb_entries": peers - missing, "neighbours": peers - missing, "offload": "on" if n.offload_on else "off"})
            tail = {"rp_filter": {"all": 1 if n.rp_strict else 2, "default": 1 if n.rp_strict else 2, n.nic: 1 if n.rp_strict else 2}}
            if vxlan:
                tail["routes"] = peers - missing
                tail["vxlan"] = {"local": n.address, "mac": n.mac, "mtu": c.vxlan_mtu, "port": 4789, "up": not down, "vni": 4096}
            head_text = api_json(head)
            tail_text = api_json(tail)
            # {"boot_id":...,"os":"..."} + ,"probes":[...] + ,"routes":..,"rp_filter":{..} + ,"uptime_seconds":x + ,"vxlan":{..}}
            n.facts_head = head_text[:-1] + ',"probes":'
            if vxlan:
                vx = tail_text.index(',"vxlan":')
                n.facts_tail = (tail_text[:vx].replace("{", ",", 1), tail_text[vx:])
            else:
                n.facts_tail = (tail_text[:-1].replace("{", ",", 1), "}")
            n.probes_ok = None
        if any_broken and (self.broken(n) or any(self.broken(p) for p, _, _ in n.targets)):
            probes = self.probe_json(n, self.pair_effect)
        else:
            if n.probes_ok is None:
                n.probes_ok = self.probe_json(n, lambda a, b: None)
            probes = n.probes_ok
        uptime = round((t - n.booted) / 1000, 2)
        middle, end = n.facts_tail
        return f'{n.facts_head}{probes}{middle},"uptime_seconds":{uptime!r}{end}'

    def cluster_facts(self, c, t):
        version = c.version(t)
        key = (self.override(c, t), version)
        if c.facts_cache is not None and c.facts_cache[0] == key:
            return c.facts_cache[1]
        broken = [n for n in c.nodes if n.fault in ("F6", "ipip-nm")]
        facts = {
            "calico_pods": {n.name: {"name": n.pod, "ready": n not in broken, "restarts": n.restarts} for n in c.nodes},
            "calico_version": version,
            "control_plane": c.control_planes[0].name,
            "errors": [],
            "ipip_mode": "Always" if c.encap == "ipip" else "Never",
            "kube_controllers_log": self.kc_log(c, t),
            "kube_controllers_ready": not self.overlay_down(c),
            "kubernetes_names": {n.name: n.name for n in c.nodes},
            "nodes": {n.name: dict({"boot_id": n.boot, "internal_ip": n.address, "kernel": OS[n.os][1]},
                                   **({"vtep": n.vtep, "vxlan_mac": n.mac} if n.vtep else {})) for n in c.nodes},
            "probe_pods": {n.name: [n.pod_ip] for n in c.coredns},
            "vxlan_mode": "Always" if c.encap == "vxlan" else "Never",
        }
        if self.override(c, t):
            facts["feature_detect_override"] = "ChecksumOffloadBroken=true"
        c.facts_cache = (key, api_json(facts))
        return c.facts_cache[1]

    def overlay_down(self, c):
        return sum(1 for n in c.nodes if self.broken(n)) * 4 >= len(c.nodes)

    def kc_log(self, c, t):
        if self.overlay_down(c):
            return [f'{ts(t - k * 31_000)[:19].replace(" ", "T")}Z [ERROR][1] client.go 295: Error getting cluster information config '
                    'ClusterInformation="default" error=Get "https://10.96.0.1:443/apis/crd.projectcalico.org/v1/clusterinformations/default": '
                    "dial tcp 10.96.0.1:443: i/o timeout" for k in range(5, 0, -1)]
        return ["[INFO][1] ipam_plugin.go 112: Garbage collection of leaked IPs complete", "[INFO][1] resources.go 350: Main client watcher loop",
                "[INFO][1] hostendpoints.go 173: successfully synced all hostendpoints",
                "[INFO][1] node_syncer.go 64: Node controller syncer status updated: in-sync",
                "[INFO][1] node_controller.go 176: Node controller is now running"]

    # --- findings ----------------------------------------------------------------------------

    def node_findings(self, n, t):
        """(check, severity, message, evidence, repair) of the node's own checks."""
        c, out = n.cluster, []
        os_name, kernel = OS[n.os]
        fault = n.fault
        if n.offload_on:
            out.append(("F2", "critical", "VXLAN checksum offload is on over a vmxnet3 NIC: only ICMP crosses the overlay (Calico issue 9433)",
                        f"tx-checksum-ip-generic: on; kernel {kernel}; NIC {n.nic} driver {n.driver}", "offload-off"))
        if fault == "F4":
            out.append(("F4", "critical", "firewalld is running and does not open 4789/udp: VXLAN packets are dropped",
                        "firewall-cmd --state: running; --query-port=4789/udp: no", "firewall-open"))
        elif fault == "F4nft":
            out.append(("F4", "critical", "an nftables rule drops UDP 4789: VXLAN packets are dropped",
                        f"table inet filter chain input handle {17 + n.id % 40}: drops 4789", "firewall-open"))
        elif fault == "F5":
            out.append(("F5", "critical", f"vxlan.calico MTU {c.vxlan_mtu} is above {n.nic}'s MTU {n.nic_mtu} − 50: full-size packets are dropped",
                        f"vxlan.calico mtu {c.vxlan_mtu}; {n.nic} mtu {n.nic_mtu}", "mtu-align"))
        elif fault == "F3":
            lines = [f"{peer.name}: route via {peer.vtep}" for peer in n.peers[:3] if peer.vtep]
            out.append(("F3", "critical", f"VXLAN entries for {len(lines)} peer(s) are missing or wrong ({len(lines)} missing, 0 wrong)",
                        "\n".join(lines), "vxlan-reset"))
        elif fault == "F6":
            out.append(("F1", "critical", "vxlan.calico is stale: it is DOWN",
                        f"vxlan.calico: DOWN local {n.address} id 4096 port 4789 mac {n.mac} mtu {c.vxlan_mtu}", "vxlan-reset"))
        if n.nm_risk or fault in ("F6", "ipip-nm"):
            out.append(("F6", "warning", "NetworkManager is active and /etc/NetworkManager/conf.d/calico.conf does not leave Calico's interfaces "
                        "unmanaged: it can take vxlan.calico down",
                        "/etc/NetworkManager/conf.d/calico.conf: exit 1: cat: /etc/NetworkManager/conf.d/calico.conf: No such file or directory",
                        "nm-unmanaged"))
        if n.rp_strict:
            out.append(("F7", "info", f"strict reverse-path filtering (rp_filter=1) on all, default, {n.nic}; Calico 3.22+ works with it, "
                        "so this is not a fault", f"net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.default.rp_filter = 1\n"
                        f"net.ipv4.conf.{n.nic}.rp_filter = 1", "rp-filter-loose"))
        return out

    def dp_finding(self, n):
        """The datapath probe's finding on a node it blames."""
        effect = self.effect(n)
        lines = []
        for peer, address, port in n.targets:
            tcp, icmp, full = PROBE_EFFECT[effect]
            full_text = ("yes" if full else "no") if n.cluster.encap == "vxlan" else "-"
            lines.append(f"{n.name} → {peer.name} {address}:{port} tcp={'yes' if tcp else 'no'} icmp={'yes' if icmp else 'no'} "
                         f"full-size={full_text}")
        involved = len(n.targets) + n.incoming
        if involved == 0:
            return None
        evidence = excerpt("\n".join(lines))
        if effect == "F2":
            check, message, repair = "F2", (f"ICMP crosses the overlay but TCP does not ({involved} of {involved} probes): the fingerprint "
                                            "of VXLAN checksum offload on a buggy NIC path (F2)"), "offload-off"
        elif effect == "F5":
            check, message, repair = "F5", (f"full-size packets do not cross the overlay to or from this node while TCP handshakes do "
                                            f"({involved} of {involved} probes): an MTU black hole (F5)"), "mtu-align"
        else:
            check, message, repair = "DP", (f"neither TCP nor ICMP crosses the overlay for {involved} of {involved} probes to or from this "
                                            "node: see its F1/F3/F4/F5 findings"), "vxlan-reset"
        return check, message, evidence, repair

    # --- audits ----------------------------------------------------------------------------

    def audit(self, c, t, trigger, requester, params=None, fresh=()):
        """One audit of the whole cluster at `t`, as AuditRunner records it. `fresh`: nodes that
        booted minutes ago (more often still unreachable)."""
        rng = self.rng
        run = Run("audit", c, t, trigger, requester, params or self.audit_params, AUDIT_PLAYBOOK)
        run.host_count = len(c.nodes)
        version = c.version(t)
        facts_done = t + rng.randint(1500, 5000)
        any_broken = any(self.broken(n) for n in c.nodes)
        health, late, state_nodes = {}, [], []
        end = facts_done
        cluster_name = c.name
        findings = run.findings
        anodes = run.anodes
        actionable = run.actionable
        called = []
        has_os = self.has_os
        for n in c.nodes:
            finished = facts_done + rng.randint(2500, 12000)
            if finished > end:
                end = finished
            roll = rng.random()
            if roll < (0.012 if n in fresh else 0.0015):
                error = f"connecting to {n.address}:22: timed out after 10 s"
                findings.append((cluster_name, n.name, "SSH", "critical", f"unreachable: {error}", "timeout", None, ts(finished)))
                row = (n.id, n.name, "unreachable", None, None, None, None, "{}", error, ts(finished), version, c.encap)
                anodes.append(row + (None,) if has_os else row)
                health[n.name] = "unreachable"
                actionable[n.name] = [("SSH", None, f"unreachable: {error}")]
                continue
            if n.seen_boot != n.boot:
                if n.seen_boot is not None:
                    run.events.append(Event(n, n.seen_boot, n.boot, n.booted + rng.randint(-900, 900), finished, "audit", run))
                n.seen_boot, n.seen_booted = n.boot, n.booted
            n.last_seen = finished
            own = self.node_findings(n, t)
            if roll > 0.999:
                own.append(("UNKNOWN", "warning", "the datapath probe did not finish: timed out after 30 s", "timed out after 30 s", None))
            worst = "healthy"
            created = ts(finished)
            for check, severity, message, evidence, repair in own:
                findings.append((cluster_name, n.name, check, severity, message, evidence, repair, created))
                if severity == "critical":
                    worst = "broken"
                elif severity == "warning" and worst == "healthy":
                    worst = "degraded"
                if severity != "info":
                    actionable.setdefault(n.name, []).append((check, repair, message))
                    if repair:
                        called.append(repair)
            health[n.name] = worst
            os_name, kernel = OS[n.os]
            row = (n.id, n.name, worst, n.boot, ts(n.booted + 700), kernel, n.driver, self.node_facts(n, finished, any_broken), None,
                   created, version, c.encap)
            anodes.append(row + (os_name,) if has_os else row)
            state_nodes.append(n)
        run.end = end + rng.randint(200, 1500)
        done = ts(run.end)
        # What compares nodes, known once all are done.
        for n in state_nodes:
            if self.broken(n):
                dp = self.dp_finding(n)
                if dp is None:
                    continue
                check, message, evidence, repair = dp
                explained = [f[0] for f in actionable.get(n.name, []) if f[1]]
                if explained:
                    repair = None
                    message += f"; explained by this node's own {', '.join(dict.fromkeys(explained))} finding, whose repair comes first"
                findings.append((cluster_name, n.name, check, "critical", message, evidence, repair, done))
                actionable.setdefault(n.name, []).append((check, repair, message))
                if repair:
                    called.append(repair)
                health[n.name] = "broken"
            if n.fault in ("F6", "ipip-nm"):
                findings.append((cluster_name, n.name, "K8S", "info", f"calico-node pod {n.pod} is not Ready ({n.restarts} restarts)", "", None, done))
        cluster_warning = False
        if c.encap == "vxlan" and arming(version) and not self.override(c, t):
            at_risk = [n for n in state_nodes if n.driver == "vmxnet3" and n.os == 9 and not n.offload_on]
            if at_risk:
                findings.append((cluster_name, None, "F8", "warning",
                                 f"Calico v{version} will turn VXLAN checksum offload on at the next restart of {len(at_risk)} node(s) with a kernel > "
                                 "5.7 on vmxnet3, breaking TCP across the overlay (F2); set FelixConfiguration featureDetectOverride "
                                 "ChecksumOffloadBroken=true before then",
                                 f"calico v{version}; featureDetectOverride: (none); at risk: "
                                 + ", ".join(f"{n.name} ({OS[n.os][1]}, vmxnet3)" for n in at_risk), "offload-off", done))
                called.append("offload-off")
                cluster_warning = True
        if self.overlay_down(c):
            findings.append((cluster_name, None, "K8S", "warning", "calico-kube-controllers is not Ready", "\n".join(self.kc_log(c, t)), None, done))
            cluster_warning = True
        if health and all(h == "unreachable" for h in health.values()):
            state = "unreachable"
        elif any(h in ("broken", "unreachable") for h in health.values()):
            state = "broken"
        elif cluster_warning or any(h == "degraded" for h in health.values()):
            state = "degraded"
        else:
            state = "healthy"
        if any(h != "healthy" for h in health.values()):
            # Late findings change node health in place, as finishAudit does.
            fixed = []
            for row in anodes:
                name = row[1]
                if row[2] != health[name]:
                    row = row[:2] + (health[name],) + row[3:]
                fixed.append(row)
            run.anodes = anodes = fixed
        run.state = state
        run.called = list(dict.fromkeys(called))
        run.summary = '{"facts":' + self.cluster_facts(c, t) + ',"state":"' + state + '"}'
        c.latest = run
        self.w.add_run(run)
        return run

    # --- repairs ---------------------------------------------------------------------------

    def plan(self, c, audit, playbook, only=None):
        """RepairPlan.make: cluster-wide repairs, then each node's, from the audit's findings;
        `only`: the nodes the request named."""
        candidates = RECOVER_REPAIRS if playbook == RECOVER else [playbook]
        composite = playbook == RECOVER
        cluster_repairs = [r for r in candidates if any(s == "cluster" for s, _ in REPAIR_STEPS[r])
                           and (not composite or r in audit.called)]
        every = [r for r in cluster_repairs if r == "mtu-align"]
        nodes = []
        for n in sorted(c.nodes, key=lambda node: node.name):
            if only is not None and n.name not in only:
                continue
            own = audit.actionable.get(n.name, [])
            unreachable = next((f for f in own if f[0] in ("SSH", "SUDO")), None)
            if unreachable:
                nodes.append((n, [unreachable[0]], [], f"not reachable over SSH: {unreachable[2]}"))
                continue
            fixable = [f for f in own if f[1] in candidates]
            names = set(f[1] for f in fixable) | set(every)
            repairs = [r for r in candidates if r in names and any(s == "node" for s, _ in REPAIR_STEPS[r])]
            checks = list(dict.fromkeys(f[0] for f in fixable))
            if repairs and not checks:
                checks = [f"cluster-wide {r}" for r in every]
            gaps = [f[2] for f in own if f[0] in ("UNKNOWN", "IDENTITY")]
            held = [r for r in repairs if r in DISRUPTIVE] if gaps else []
            repairs = [r for r in repairs if r not in held]
            if repairs:
                nodes.append((n, checks, repairs, None))
            elif held:
                nodes.append((n, checks + ["UNKNOWN"], [], f"evidence incomplete, so {', '.join(held)} (disruptive) is not run: {gaps[0]}"))
            elif own:
                checks = list(dict.fromkeys(f[0] for f in own))
                nodes.append((n, checks, [], f"{playbook} has no repair for {', '.join(checks)}: {own[0][2]}"))
        return cluster_repairs, nodes

    def command(self, playbook, step, c, n, mtu):
        key = (playbook, step, n.name if n is not None else c.name, mtu)
        text = self.commands.get(key)
        if text is None:
            template = self.templates.get((playbook, step), f"# {playbook}/{step}\n")
            values = {"kubeconfig": "/etc/kubernetes/admin.conf", "calico_namespace": c.namespace, "cluster": c.name,
                      "control_plane": c.control_planes[0].name, "vxlan_mtu": str(mtu), "ports": "4789/udp"}
            if n is not None:
                values.update({"node": n.name, "k8s_node": n.name, "node_ip": n.address})
            text = self.commands[key] = render(template, values)
            if len(self.commands) > 50_000:
                self.commands.clear()
        return text

    def step_output(self, playbook, step, c, n, mtu, ok):
        """(stdout, stderr, exit status, duration ms) of a step."""
        rng = self.rng
        if playbook == "offload-off" and step == "felix-override":
            if ok:
                return ("felixconfiguration.crd.projectcalico.org/default patched\n"
                        "featureDetectOverride: '' -> 'ChecksumOffloadBroken=true'\n", "", 0, rng.randint(900, 2500))
            return ("", "Error from server (Forbidden): felixconfigurations.crd.projectcalico.org \"default\" is forbidden\n"
                        "offload-off: cannot read FelixConfiguration default (see above); Felix creates it when calico-node first starts\n",
                    1, rng.randint(700, 1500))
        if step == "offload":
            return ("Actual changes:\ntx-checksumming: off\n\ttx-checksum-ip-generic: off\ntcp-segmentation-offload: off\n"
                    "\ttx-tcp-segmentation: off [requested on]\n\ttx-tcp6-segmentation: off [requested on]\n"
                    "vxlan.calico: tx-checksum-ip-generic: off\n", "", 0, rng.randint(150, 600))
        if step == "open-ports":
            if ok:
                return ("4789/udp: opened (permanent)\nfirewall-cmd --reload: success\n", "", 0, rng.randint(1800, 4500))
            return ("", "firewall-open: firewalld is not running (not running), so the rule dropping VXLAN (UDP 4789) is not "
                        "firewalld's; find it with 'nft list ruleset' or 'iptables-save' and remove it by hand\n", 1, rng.randint(90, 300))
        if playbook == "firewall-open" and step == "verify":
            return ("4789/udp: open\n", "", 0, rng.randint(300, 900))
        if step == "calico-conf":
            return ("wrote /etc/NetworkManager/conf.d/calico.conf\n", "", 0, rng.randint(60, 250))
        if step == "reload":
            return ("NetworkManager reloaded\n", "", 0, rng.randint(300, 1200))
        if step == "evidence" and c.encap != "vxlan":
            return ('Device "vxlan.calico" does not exist.\n(no vxlan.calico device)\n--- routes\nCannot find device "vxlan.calico"\n'
                    '--- fdb\n--- neighbours\nCannot find device "vxlan.calico"\n', "", 0, rng.randint(80, 300))
        if step == "delete-device" and c.encap != "vxlan":
            return ("no vxlan.calico to delete\n", "", 0, rng.randint(60, 200))
        if step == "evidence":
            peers = [p for p in n.peers if p.vtep][:12]
            text = (f"{40 + n.id % 9}: vxlan.calico: <BROADCAST,MULTICAST{',UP,LOWER_UP' if n.fault != 'F6' else ''}> mtu {mtu or c.vxlan_mtu} "
                    f"qdisc noqueue state {'UNKNOWN' if n.fault != 'F6' else 'DOWN'} mode DEFAULT group default\n"
                    f"    link/ether {n.mac} brd ff:ff:ff:ff:ff:ff promiscuity 0\n"
                    f"    vxlan id 4096 local {n.address} dev {n.nic} srcport 0 0 dstport 4789 nolearning ttl auto ageing 300\n--- routes\n"
                    + "".join(f"{p.vtep[:-1]}0/26 via {p.vtep} dev vxlan.calico onlink\n" for p in peers)
                    + "--- fdb\n" + "".join(f"{p.mac} dst {p.address} self permanent\n" for p in peers)
                    + "--- neighbours\n" + "".join(f"{p.vtep} lladdr {p.mac} PERMANENT\n" for p in peers))
            return (text, "", 0, rng.randint(80, 300))
        if step == "delete-device":
            return ("deleted vxlan.calico\n", "", 0, rng.randint(60, 200))
        if step == "restart-calico-node":
            new = f"calico-node-{self.pod_suffix()}"
            if ok:
                return (f'pod "{n.pod}" deleted\ncalico-node pod on {n.name}: {new} Running\n', "", 0, rng.randint(18_000, 65_000))
            return (f'pod "{n.pod}" deleted\n', f"{playbook}: no new calico-node pod Running on {n.name} after deleting the old one; now:\n"
                    f"{self.uuid()} Pending {new} \n", 1, 140_000 + rng.randint(0, 900))
        if step == "wait-device":
            if ok:
                routes = len(c.nodes) - 1
                return (f"vxlan.calico UP, local {n.address}, {routes} routes, {routes} FDB entries\n", "", 0, rng.randint(2500, 16_000))
            return ("", "vxlan-reset: Felix has not restored vxlan.calico: vxlan.calico does not exist\n", 1, 80_000 + rng.randint(0, 900))
        if step == "cluster-mtu":
            note = ("pods started before this change keep their old MTU until they are re-created (kubectl rollout restart of their "
                    "workloads)")
            if c.namespace == "calico-system":
                return (f"installation.operator.tigera.io/default patched\nInstallation default: calicoNetwork.mtu 'auto' -> '{mtu}'; {note}\n",
                        "", 0, rng.randint(1200, 3000))
            return (f"configmap/calico-config patched\nveth_mtu: '{c.vxlan_mtu}' -> '{mtu}'; {note}\n", "", 0, rng.randint(1200, 3000))
        if step == "wait-mtu":
            if ok:
                return (f"vxlan.calico MTU {mtu} fits {n.nic} MTU {n.nic_mtu}\n", "", 0, rng.randint(2000, 12_000))
            why = (f"vxlan.calico MTU 1450 > {n.nic} MTU {n.nic_mtu} - 50" if n.nic_mtu - 50 < 1450
                   else f"vxlan.calico MTU 1450 is above the cluster's {mtu}")
            return ("", f"mtu-align: {why} (is the cluster's MTU set, and did calico-node restart?)\n", 1, 80_000 + rng.randint(0, 900))
        if step == "calico-pods-ready":
            lines = ["NAME                READY   STATUS    RESTARTS      AGE    IP              NODE" + " " * 20 + "NOMINATED NODE   READINESS GATES"]
            for node in c.nodes:
                lines.append(f"{node.pod:<19} 1/1     Running   {node.restarts:<13} {1 + node.id % 40}d    {node.address:<15} "
                             f"{node.name:<27} <none>           <none>")
            return ("\n".join(lines) + "\n", "", 0, rng.randint(3000, 40_000))
        return ("", "", 0, rng.randint(100, 1000))

    def verify_command(self, n, good):
        targets = []
        for peer, address, port in n.targets:
            if peer in good:
                targets.append(f"p {shell_quote(peer.name)} {shell_quote(address)} {port} &")
        if not targets:
            return None, []
        return "\n".join(["t=2", PROBE_SCRIPT] + targets + ["wait"]), [t for t in n.targets if t[0] in good]

    def repair(self, c, t, trigger, requester, playbook=RECOVER, before=None, dry=False, batch=None, preview=False, only=None):
        """A repair run (or dry run) from `t`: its audit before (given, or made now), the plan, the
        steps node by node, the audit after. Returns the run; node state is updated."""
        rng = self.rng
        candidates = RECOVER_REPAIRS if playbook == RECOVER else [playbook]
        run = Run("repair", c, t, trigger, requester, "{}", playbook)
        run.dry = 1 if dry else 0
        if before is None:
            before = self.audit(c, t + rng.randint(30, 120), trigger, requester)
        elif preview:
            run.start = t
        else:
            run.start = before.end + rng.randint(100, 900)
        run.before = before
        cluster_repairs, nodes = self.plan(c, before, playbook, only)
        cursor = max(run.start, before.end) + rng.randint(50, 400)
        run.host_count = len(nodes)
        cp = c.control_planes[0]
        mtu = min(n.nic_mtu for n in c.nodes) - 50
        rollout = [entry for entry in nodes if entry[3] is None]
        skipped = {entry[0].name: entry[3] for entry in nodes if entry[3] is not None}
        outcome = {}
        steps = run.steps
        run.params = grdb_json({"kubeconfig": "/etc/kubernetes/admin.conf", "batch": "auto", "max_failures": "1", "verify_timeout": "60"})
        if not cluster_repairs and not rollout:
            run.end = cursor
            if before.state == "healthy":
                run.status, run.message = "succeeded", "nothing to repair: the cluster is healthy"
            else:
                run.status = "failed"
                run.message = (f"nothing {playbook} can repair; the cluster is {before.state}"
                               + (": " + "; ".join(f"{name}: {why}" for name, why in skipped.items()) if skipped else ""))
            run.state = before.state
            self._repair_nodes(run, nodes, outcome, {})
            self.w.add_run(run)
            return run
        disruptive = any(r in DISRUPTIVE for entry in rollout for r in entry[2])
        # The run's parameters: the playbooks' defaults, and how it was asked for (auto-repair
        # gives a batch only for a disruptive plan).
        params = {"kubeconfig": "/etc/kubernetes/admin.conf", "batch": str(batch) if batch and disruptive else "auto",
                  "max_failures": "1", "verify_timeout": "60"}
        if "firewall-open" in candidates:
            params["ports"] = "4789/udp"
        if playbook == "nm-unmanaged":
            del params["kubeconfig"]
        if only is not None:
            params["nodes"] = ",".join(only)
        run.params = grdb_json(params)
        if dry:
            for r in cluster_repairs:
                for scope, step in REPAIR_STEPS[r]:
                    if scope == "cluster":
                        steps.append((None, cp.name, r, step, self.command(r, step, c, None, mtu), "planned", None, "", "", ts(cursor), 0))
            good = set(n for n in c.nodes if before_health(before, n) in ("healthy", "degraded"))
            for n, _, repairs, _ in rollout:
                for r in repairs:
                    for scope, step in REPAIR_STEPS[r]:
                        if scope == "node":
                            host = cp.name if step in ON_CONTROL_PLANE else n.name
                            steps.append((n.name, host, r, step, self.command(r, step, c, n, mtu), "planned", None, "", "", ts(cursor), 0))
                command, _ = self.verify_command(n, good)
                steps.append((n.name, n.name, "verify", "tcp-probe", command or "# no healthy peer to probe; the audit after the repair probes this node",
                              "planned", None, "", "", ts(cursor), 0))
                outcome[n.name] = ("planned", None, None, None)
            if playbook == RECOVER:
                steps.append((None, cp.name, RECOVER, "calico-pods-ready", self.command(RECOVER, "calico-pods-ready", c, None, mtu), "planned",
                              None, "", "", ts(cursor), 0))
            run.end = cursor + rng.randint(5, 40)
            names = ", ".join(entry[0].name for entry in rollout)
            run.message = (f"dry run: {len(rollout)} node(s) would be repaired ({names})"
                           + (f" after cluster-wide steps of {', '.join(cluster_repairs)}" if cluster_repairs else "") + "; nothing was changed")
            run.state = before.state
            self._repair_nodes(run, nodes, outcome, {})
            self.w.add_run(run)
            return run

        # Cluster-wide steps.
        for r in cluster_repairs:
            for scope, step in REPAIR_STEPS[r]:
                if scope != "cluster":
                    continue
                ok = rng.random() > 0.004
                stdout, stderr, status, duration = self.step_output(r, step, c, None, mtu, ok)
                steps.append((None, cp.name, r, step, self.command(r, step, c, None, mtu), "ok" if ok else "failed", status, stdout, stderr,
                              ts(cursor), duration))
                cursor += duration + rng.randint(20, 200)
                if not ok:
                    last = stderr.strip().split("\n")[-1]
                    run.status, run.state = "failed", before.state
                    run.message = f"{r}/{step} on {cp.name} failed (exit 1): {last}; no node was touched"
                    for n, _, _, _ in rollout:
                        skipped[n.name] = "not touched: a cluster-wide step failed"
                    run.end = cursor
                    self._repair_nodes(run, nodes, outcome, skipped)
                    self.w.add_run(run)
                    return run
                if r == "offload-off":
                    self.set_override(c, cursor)
                if r == "mtu-align":
                    c.vxlan_mtu = mtu
                    for n in c.nodes:
                        n.facts_head = None
                    c.facts_cache = None

        # Node by node.
        width = batch if (batch and disruptive) else (1 if disruptive else 8)
        good = set(n for n in c.nodes if before_health(before, n) in ("healthy", "degraded"))
        failures = []
        stop = None
        index = 0
        while index < len(rollout):
            group = rollout[index:index + width]
            index += len(group)
            group_end = cursor
            for n, checks, repairs, _ in group:
                at = cursor + rng.randint(0, 300)
                started = at
                failure = None
                for r in repairs:
                    for scope, step in REPAIR_STEPS[r]:
                        if scope != "node":
                            continue
                        ok = self.step_ok(r, step, n)
                        stdout, stderr, status, duration = self.step_output(r, step, c, n, mtu, ok)
                        host = cp.name if step in ON_CONTROL_PLANE else n.name
                        steps.append((n.name, host, r, step, self.command(r, step, c, n, mtu), "ok" if ok else "failed", status, stdout, stderr,
                                      ts(at), duration))
                        at += duration + rng.randint(10, 120)
                        if not ok:
                            last = stderr.strip().split("\n")[-1]
                            failure = f"{r}/{step} on {host} failed (exit 1): {last}"
                            break
                    if failure:
                        break
                if failure is None:
                    command, targets = self.verify_command(n, good)
                    if command is None:
                        steps.append((n.name, n.name, "verify", "tcp-probe", "# no healthy peer to probe", "ok", 0,
                                      "no peer is known to be healthy yet; the audit after the repair probes this node", "", ts(at), 0))
                    else:
                        fails = n.offload_on and "offload-off" not in repairs or rng.random() < 0.007
                        duration = rng.randint(2100, 6000) if not fails else 60_000 + rng.randint(0, 4000)
                        attempts = 1 if not fails else 29
                        full = "-" if c.encap != "vxlan" else "0" if fails else "1"
                        lines = "".join(f"{peer.name} {address} {port} 1 {0 if fails else 1} {full}\n" for peer, address, port in targets)
                        if fails:
                            peer, address, port = targets[0]
                            why = (f"the overlay fails to {peer.name} {address}:{port} "
                                   + ("(TCP fails, ICMP passes: the F2 fingerprint)" if n.offload_on else "(TCP fails)"))
                            steps.append((n.name, n.name, "verify", "tcp-probe", command, "failed", 1, lines + f"\n({attempts} attempt(s))", why,
                                          ts(at), duration))
                            failure = f"verify: {why} (after 60 s)"
                        else:
                            steps.append((n.name, n.name, "verify", "tcp-probe", command, "ok", 0, lines + f"\n({attempts} attempt(s))", "",
                                          ts(at), duration))
                        at += duration
                finished = at + rng.randint(5, 60)
                outcome[n.name] = ("failed" if failure else "recovered", failure, started, finished)
                if finished > group_end:
                    group_end = finished
                if failure:
                    failures.append(f"{n.name}: {failure}")
                else:
                    good.add(n)
                    self.repaired(n, repairs)
            cursor = group_end + rng.randint(50, 500)
            if failures and index < len(rollout):
                rest = [entry[0].name for entry in rollout[index:]]
                for name in rest:
                    skipped[name] = f"not touched: the rollout stopped after {len(failures)} failed node(s)"
                stop = f"rollout stopped: {'; '.join(failures)}; not touched: {', '.join(rest)}"
                break
        if stop is None and failures:
            stop = f"failed: {'; '.join(failures)}"
        if stop is None and playbook == RECOVER:
            ok = rng.random() > 0.005
            stdout, stderr, status, duration = self.step_output(RECOVER, "calico-pods-ready", c, None, mtu, True)
            if not ok:
                stdout, stderr, status, duration = ("", "calico-recover: calico-node pods still not Ready:\n"
                                                    f"{c.nodes[-1].pod} {c.nodes[-1].name} False\n", 1, 170_000)
            steps.append((None, cp.name, RECOVER, "calico-pods-ready", self.command(RECOVER, "calico-pods-ready", c, None, mtu),
                          "ok" if ok else "failed", status, stdout, stderr, ts(cursor), duration))
            cursor += duration
            if not ok:
                stop = f"{RECOVER}/calico-pods-ready on {cp.name} failed (exit 1): {c.nodes[-1].pod} {c.nodes[-1].name} False"
        after = self.audit(c, cursor + rng.randint(100, 800), trigger, requester,
                           grdb_json(dict(AUDIT_PARAMETERS, probe_peers=str(min(max(len(c.nodes) - 1, 1), 32)))))
        run.after = after
        run.end = after.end + rng.randint(20, 200)
        recovered = sum(1 for value in outcome.values() if value[0] == "recovered")
        run.state = after.state
        run.message = (stop or f"{recovered} node(s) repaired") + f"; the cluster is {after.state} (audit {{after}})"
        run.status = "succeeded" if stop is None and after.state == "healthy" else "failed"
        self._repair_nodes(run, nodes, outcome, skipped)
        self.w.add_run(run)
        return run

    def _repair_nodes(self, run, nodes, outcome, skipped):
        for position, (n, checks, repairs, skip) in enumerate(nodes):
            reason = skipped.get(n.name, skip)
            state = outcome.get(n.name)
            if state is not None:
                kind, why, started, finished = state
                run.rnodes.append((n.id, n.name, position, grdb_json(checks), grdb_json(repairs), kind, why,
                                   ts(started) if started else None, ts(finished) if finished else None))
            else:
                run.rnodes.append((n.id, n.name, position, grdb_json(checks), grdb_json(repairs), "skipped", reason, None, None))

    def step_ok(self, repair, step, n):
        rng = self.rng
        if step == "open-ports":
            return n.fault != "F4nft"
        if step == "wait-device":
            return n.fault != "ipip-dp" and rng.random() > 0.015
        if step == "restart-calico-node":
            return rng.random() > 0.004
        if step == "wait-mtu":
            return rng.random() > 0.005
        return True

    def repaired(self, n, repairs):
        c = n.cluster
        if "offload-off" in repairs:
            n.offload_on = False
        if "nm-unmanaged" in repairs:
            n.nm_risk = False
        needs = {"F4": "firewall-open", "F4nft": "firewall-open", "F5": "mtu-align", "F3": "vxlan-reset", "F6": "vxlan-reset",
                 "ipip-nm": "nm-unmanaged", "ipip-dp": "vxlan-reset"}
        if n.fault is not None and needs.get(n.fault) in repairs:
            if n.fault == "F6" and "nm-unmanaged" not in repairs:
                pass
            else:
                self.set_fault(n, None, 0)
        if "vxlan-reset" in repairs or "mtu-align" in repairs:
            n.restarts += 1
            n.pod = f"calico-node-{self.pod_suffix()}"
        n.facts_head = None
        c.facts_cache = None

    # --- what people and policies do ---------------------------------------------------------

    def follow_up(self, c, audit, t, noticed=True):
        """An operator's reaction to an audit that calls for a repair: soon when it was a reboot's
        audit and something is broken, on the next working day or so when a scheduled audit shows it,
        now and then when only warnings are left. Faults given up on (sticky) are left alone."""
        rng = self.rng
        if c.repair_pending or not audit.called:
            return
        critical = audit.state == "broken" and any(
            f[1] for name, fs in audit.actionable.items() if not (c.by_name[name].sticky or c.by_name[name].by_hand)
            for f in fs if f[0] != "F6")
        if critical and noticed:
            delay = int(rng.lognormvariate(0, 0.8) * 40 * MINUTE) if rng.random() < 0.86 else rng.randint(24, 96) * HOUR
        elif critical:
            if rng.random() > 0.5:
                return
            delay = rng.randint(1, 8) * HOUR
        else:
            only_f8 = all(not fs for fs in audit.actionable.values())
            if rng.random() > (0.08 if only_f8 else 0.25):
                return
            delay = rng.randint(24, 120) * HOUR
        c.repair_pending = True
        self.push(t + delay, "clirepair", c, {"retry": False})

    def after_failed_repair(self, c, run, t, retried):
        rng = self.rng
        if not retried and rng.random() < 0.5:
            c.repair_pending = True
            self.push(t + rng.randint(1, 8) * HOUR, "clirepair", c, {"retry": True})
            return
        for n in c.nodes:
            if self.broken(n) and not n.sticky:
                if n.fault in ("F4nft", "ipip-dp") and not c.auto and rng.random() < 0.1:
                    n.sticky = True  # nobody gets to it: it stays broken
                    continue
                n.by_hand = True  # someone will fix it by hand: no more caulk repairs for it meanwhile
                self.push(t + rng.randint(18, 120) * HOUR, "manualfix", c, (n, n.fault_token))

    @staticmethod
    def nodes_to_repair(audit):
        """Whether some node's own finding calls for a repair (not only the cluster's F8)."""
        return audit is not None and audit.actionable is not None and any(
            f[1] for fs in audit.actionable.values() for f in fs)

    def start_preview(self, c, t):
        if self.args.preview_hours > 0 and not c.preview_on and self.nodes_to_repair(c.latest):
            c.preview_on = True
            self.push(t + int(self.args.preview_hours * HOUR * self.rng.uniform(0.8, 1.2)), "preview", c)

    # --- the event loop --------------------------------------------------------------------

    def next_scheduled(self, c, t):
        minute, hour = c.cron
        day = dt.datetime.fromtimestamp(t // 1000, dt.timezone.utc).replace(hour=hour, minute=minute, second=0, microsecond=0)
        while True:
            at = int(day.timestamp() * 1000)
            if at > t and day.day % 2 == 1:
                return at
            day += dt.timedelta(days=1)

    def run(self):
        rng = self.rng
        for c in self.clusters:
            self.push(self.next_scheduled(c, self.start), "scheduled", c)
            c.last_scheduled = None
            period = rng.uniform(26, 35) * DAY
            first = self.start + int(rng.uniform(0, period))
            window = {"eu": 21, "us": 3, "ap": 14}[c.region] * HOUR
            self.push(first - first % DAY + window + rng.randint(0, 3 * HOUR), "wave", c, {"period": period, "window": window})
            self.push(self.start + int(rng.expovariate(len(c.nodes) * 0.5 / 365) * DAY), "unplanned", c)
            if c.os_plan == "migrate":
                c.migrate_wave = rng.randint(1, max(1, int(self.args.days / 31)))
            if rng.random() < 0.7:
                self.push(self.start + int(rng.expovariate(1 / 30) * DAY), "exec", c)
            if c.auto:
                self.beacon_install(c, self.start + rng.randint(HOUR, 20 * HOUR))
        progress_every = 30 * DAY
        next_progress = self.start + progress_every
        clock = time.monotonic()
        while self.events:
            at, _, kind, c, payload = heapq.heappop(self.events)
            if at >= self.now:
                continue
            if at < c.busy_until and kind not in ("batch", "unplanned"):
                self.push(c.busy_until + rng.randint(1000, 60_000), kind, c, payload)
                continue
            self.w.advance(at)
            if at >= next_progress:
                print(f"  simulated {(at - self.start) // DAY} of {self.args.days} days, "
                      f"{self.w.next_run - 1} runs written, {time.monotonic() - clock:.0f} s", flush=True)
                next_progress += progress_every
            getattr(self, "on_" + kind)(c, at, payload)
        self.w.finish()

    def on_scheduled(self, c, t, _):
        audit = self.audit(c, t + self.rng.randint(200, 3000), "schedule", f"schedule:audit-{c.name}")
        c.last_scheduled = audit.start
        c.busy_until = audit.end
        if c.pending_decision is None:
            self.follow_up(c, audit, audit.end, noticed=False)
        self.start_preview(c, audit.end)
        self.push(self.next_scheduled(c, t), "scheduled", c)

    def on_wave(self, c, t, info):
        rng = self.rng
        c.waves += 1
        period = info["period"]
        nxt = t + int(period + rng.uniform(-3, 3) * DAY)
        self.push(nxt - nxt % DAY + info["window"] + rng.randint(0, 3 * HOUR), "wave", c, info)
        if rng.random() < 0.08:
            return  # a change freeze: this month's patches wait
        wave = {"migrate": c.os_plan == "migrate" and c.waves == c.migrate_wave,
                "firewall": c.encap == "vxlan" and rng.random() < 0.03}
        order = [n for n in c.nodes if n.role == "worker"] + c.control_planes
        size = max(1, len(c.nodes) // 4)
        at = t
        for i in range(0, len(order), size):
            self.push(at, "batch", c, (order[i:i + size], wave))
            at += rng.randint(22, 45) * MINUTE

    def on_batch(self, c, t, payload):
        nodes, wave = payload
        self.rebooted(c, t, nodes, wave, planned=True)

    def on_unplanned(self, c, t, _):
        rng = self.rng
        self.push(t + int(rng.expovariate(len(c.nodes) * 0.5 / 365) * DAY) + 1, "unplanned", c)
        self.rebooted(c, t, [rng.choice(c.nodes)], None, planned=False)

    def rebooted(self, c, t, nodes, wave, planned):
        rng = self.rng
        boots = []
        for n in nodes:
            boot = t + rng.randint(60, 240) * 1000
            self.reboot(n, boot, wave)
            boots.append((n, boot))
        last = max(boot for _, boot in boots)
        if c.auto:
            seen = []
            for n, boot in boots:
                if n.beacon:
                    at = boot + rng.randint(25_000, 70_000)
                    event = Event(n, n.seen_boot, n.boot, boot, at, "beacon", None)
                    n.seen_boot, n.seen_booted = n.boot, n.booted
                    n.token_used = at
                    self.w.add_event(event)
                    seen.append(event)
            if not seen:
                self.follow_up_later(c, last, planned)
                return
            pending = c.pending_decision
            due = max(event.seen for event in seen) + 120_000
            if pending is not None and pending.decision == "pending":
                pending.reboots += len(seen)
                pending.due = max(pending.due, due)
                pending.event, pending.node = seen[-1], seen[-1].node.name
                self.push(pending.due, "auto", c, pending)
                return
            decision = Decision()
            decision.c, decision.event, decision.node = c, seen[-1], seen[-1].node.name
            decision.reboots, decision.due, decision.decision = len(seen), due, "pending"
            decision.reason = decision.audit = decision.repair = decision.decided = None
            decision.created = seen[0].seen
            c.pending_decision = decision
            self.decisions.append(decision)
            self.push(due, "auto", c, decision)
        else:
            self.follow_up_later(c, last, planned)

    def follow_up_later(self, c, last, planned):
        rng = self.rng
        if planned:
            self.push(last + rng.randint(4, 9) * MINUTE, "postaudit", c, ("api", "patch-pipeline"))
        elif rng.random() < 0.85:
            self.push(last + rng.randint(5, 45) * MINUTE, "postaudit", c, ("cli", self.operator()))

    def on_postaudit(self, c, t, payload):
        trigger, requester = payload
        fresh = [n for n in c.nodes if t - n.booted < 15 * MINUTE]
        audit = self.audit(c, t, trigger, requester, fresh=fresh)
        c.busy_until = audit.end
        self.follow_up(c, audit, audit.end)
        self.start_preview(c, audit.end)

    def on_auto(self, c, t, decision):
        """AutoRepairService.act: claim, check the hourly limit, audit, plan, repair."""
        rng = self.rng
        if decision.decision != "pending" or t < decision.due:
            return  # acted on already, or joined by a later reboot whose event comes later
        c.pending_decision = None
        decision.decision = "running"
        recent = [at for at in c.auto_repairs if at > t - HOUR]
        if len(recent) >= 2:
            decision.decision = "skipped"
            decision.reason = f"{len(recent)} auto-repair(s) of {c.name} in the last hour already (max_per_hour 2); a person should look"
            decision.decided = t + rng.randint(5, 80)
            self.follow_up_later(c, t, planned=False)
            return
        fresh = [n for n in c.nodes if t - n.booted < 15 * MINUTE]
        audit = self.audit(c, t + rng.randint(5, 80), "auto", "auto-repair", fresh=fresh)
        decision.audit = audit
        if audit.state == "healthy":
            decision.decision, decision.reason, decision.decided = "skipped", "the cluster is healthy after the reboot", audit.end + 5
            c.busy_until = audit.end
            return
        cluster_repairs, nodes = self.plan(c, audit, RECOVER)
        if not cluster_repairs and not any(entry[3] is None for entry in nodes):
            checks = sorted(set(f[0] for fs in audit.actionable.values() for f in fs))
            decision.decision = "skipped"
            decision.reason = f"the cluster is {audit.state}, but nothing found is repairable ({', '.join(checks)}); a person should look"
            decision.decided = audit.end + 5
            c.busy_until = audit.end
            self.follow_up(c, audit, audit.end)
            return
        batch = max(1, int(len(c.nodes) * 0.25))
        c.auto_repairs.append(audit.end)
        run = self.repair(c, audit.end, "auto", "auto-repair", before=audit, batch=batch)
        decision.repair = run
        decision.decision = "repaired" if run.status == "succeeded" else "failed"
        decision.decided = run.end + 5
        c.busy_until = run.end
        if run.status != "succeeded":
            latest = c.latest
            if any(self.broken(n) for n in c.nodes):
                self.after_failed_repair(c, run, run.end, retried=False)
            elif latest is not None:
                self.follow_up(c, latest, run.end)
        self.start_preview(c, run.end)

    def on_clirepair(self, c, t, payload):
        rng = self.rng
        c.repair_pending = False
        latest = c.latest
        if latest is not None and not latest.called and not any(self.broken(n) for n in c.nodes):
            return  # fixed meanwhile
        operator = self.operator()
        broken_checks = set(f[0] for fs in (latest.actionable.values() if latest else []) for f in fs)
        playbook = RECOVER
        if rng.random() < 0.15 and broken_checks and broken_checks <= {"F2", "F8"}:
            playbook = "offload-off"
        elif rng.random() < 0.15 and broken_checks and broken_checks <= {"F4", "DP"}:
            playbook = "firewall-open"
        at = t
        only = None
        if any(n.sticky or n.by_hand for n in c.nodes):
            # --nodes: everything the latest audit wants repaired except what caulk cannot fix.
            only = [n.name for n in c.nodes if not (n.sticky or n.by_hand)
                    and (self.broken(n) or (latest is not None and latest.actionable and n.name in latest.actionable))]
            if not only:
                return
        if not payload["retry"] and rng.random() < 0.35:
            dry = self.repair(c, at, "cli", operator, playbook=playbook, dry=True, only=only)
            at = dry.end + rng.randint(2, 10) * MINUTE
        run = self.repair(c, at, "cli", operator, playbook=playbook, only=only)
        c.busy_until = run.end
        if run.status != "succeeded" and any(self.broken(n) for n in c.nodes):
            self.after_failed_repair(c, run, run.end, retried=payload["retry"])
        elif run.status != "succeeded" and c.latest is not None and c.latest.called and rng.random() < 0.3:
            c.repair_pending = True
            self.push(run.end + rng.randint(1, 6) * HOUR, "clirepair", c, {"retry": True})
        self.start_preview(c, run.end)

    def on_manualfix(self, c, t, payload):
        n, token = payload
        n.by_hand = False
        if n.fault_token == token and not n.sticky:
            if n.fault == "F5":
                n.nic_mtu = 1500
            self.set_fault(n, None, t)
            n.offload_on = False
            n.nm_risk = False
            n.facts_head = None

    def on_preview(self, c, t, _):
        latest = c.latest
        if not self.nodes_to_repair(latest):
            c.preview_on = False
            return
        _, nodes = self.plan(c, latest, RECOVER)
        if not any(entry[3] is None for entry in nodes):
            c.preview_on = False
            return
        self.repair(c, t, "api", "dashboard", before=latest, dry=True, preview=True)
        self.push(t + int(self.args.preview_hours * HOUR * self.rng.uniform(0.8, 1.2)), "preview", c)

    def on_exec(self, c, t, _):
        rng = self.rng
        self.push(t + int(rng.expovariate(1 / 30) * DAY) + HOUR, "exec", c)
        commands = [("uptime", lambda n: f" {ts(t)[11:19]} up {max(0, (t - n.booted) // DAY)} days,  load average: 0.4{n.id % 10}, 0.38, 0.35\n"),
                    ("ethtool -k vxlan.calico | grep tx-checksum-ip-generic",
                     lambda n: f"tx-checksum-ip-generic: {'on' if n.offload_on else 'off'}\n"),
                    ("systemctl is-active NetworkManager firewalld", lambda n: "active\nactive\n"),
                    ("cat /etc/os-release | head -2", lambda n: f'NAME="Red Hat Enterprise Linux"\nVERSION="{OS[n.os][0][5:]} (Plow)"\n')]
        command, output = rng.choice(commands)
        run = Run("exec", c, t, "cli", self.operator())
        run.command = command
        run.host_count = len(c.nodes)
        end = t
        for n in c.nodes:
            finished = t + rng.randint(150, 1800)
            end = max(end, finished)
            run.hosts.append((n.name, n.address, "ok", 0, None, output(n), "", 0, 0, None, None, None, finished - t, ts(finished)))
        run.end = end + 20
        self.w.add_run(run)

    def beacon_install(self, c, t):
        run = Run("beacon-install", c, t, "cli", self.operator(), "{}", "boot-beacon")
        run.host_count = len(c.nodes)
        end = t
        for n in c.nodes:
            finished = t + self.rng.randint(900, 4000)
            end = max(end, finished)
            ok = n.beacon
            run.hosts.append((n.name, n.address, "ok" if ok else "failed", 0 if ok else 1, None,
                              "Created symlink /etc/systemd/system/multi-user.target.wants/caulk-beacon.service → "
                              "/etc/systemd/system/caulk-beacon.service.\n" if ok else "",
                              "" if ok else "curl: (7) Failed to connect to caulk.example.internal port 8420: No route to host\n",
                              0, 0, None, None, None, finished - t, ts(finished)))
            if ok:
                self.node_tokens.append((f"node:{c.name}/{n.name}@{t}", n, t))
        run.end = end + 50
        self.w.add_run(run)

    # --- the end -----------------------------------------------------------------------------

    def write_rest(self):
        db, rng = self.db, self.rng
        rows = []
        for d in sorted(self.decisions, key=lambda d: (d.created, d.c.id)):
            reason = d.reason
            if d.repair is not None and d.repair.message is not None:
                after = d.repair.after.id if d.repair.after is not None else None
                reason = d.repair.message.replace("{after}", str(after))
            rows.append((d.c.id, d.c.name, d.event.id if d.event else None, d.node, d.reboots, ts(d.due), d.decision, reason,
                         d.audit.id if d.audit else None, d.repair.id if d.repair else None, ts(d.created),
                         ts(d.decided) if d.decided else None))
        db.executemany("INSERT INTO auto_repair_decisions (cluster_id, cluster_name, reboot_event_id, node_name, reboots, due_at, decision, "
                       "reason, audit_run_id, repair_run_id, created_at, decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        observations = []
        for c in self.clusters:
            for n in c.nodes:
                if n.seen_boot is not None or n.last_seen is not None:
                    observations.append((n.id, n.seen_boot, ts(n.seen_booted + 700) if n.seen_booted else None,
                                         ts(n.last_seen) if n.last_seen else None))
        db.executemany("INSERT INTO node_observations (node_id, last_boot_id, last_booted_at, last_seen_at) VALUES (?,?,?,?)", observations)
        schedules = []
        for row, c in zip(self.schedules, self.clusters):
            last = c.last_scheduled
            row[5] = ts(self.next_scheduled(c, self.now))
            row[6] = ts(last) if last else None
            # Paused: a server benchmarking this file must not start audits of nodes that do not
            # exist (they would add load to the timings); the history up to --now is what counts.
            row[4] = 1
            schedules.append(tuple(row))
        db.executemany("INSERT INTO schedules (name, cron, cluster_id, playbook, paused, next_run_at, last_run_at, created_by, created_at, "
                       "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", schedules)
        existing = set(name for (name,) in db.execute("SELECT name FROM tokens WHERE revoked_at IS NULL"))
        tokens = []
        people = [(name, "operator") for name in OPERATORS] + [("patch-pipeline", "operator"), ("grafana", "viewer"), ("dashboard", "viewer")]
        for name, role in people:
            if name not in existing:
                tokens.append((name, "admin" if name == "alice" else role, None, hashlib.sha256(f"{name}{rng.random()}".encode()).hexdigest(),
                               ts(self.start - 30 * DAY), ts(self.now - rng.randint(1, 48) * HOUR), None))
        for name, n, created in self.node_tokens:
            tokens.append((name, "node", n.id, hashlib.sha256(f"{name}{rng.random()}".encode()).hexdigest(), ts(created),
                           ts(n.token_used) if n.token_used else None, None))
        db.executemany("INSERT INTO tokens (name, role, node_id, secret_hash, created_at, last_used_at, revoked_at) VALUES (?,?,?,?,?,?,?)",
                       tokens)
        db.commit()


def before_health(audit, n):
    return "broken" if n.name in audit.actionable and any(f[0] not in ("F6",) for f in audit.actionable[n.name]) else "healthy"


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Fill an EMPTY caulk database with a realistic, deterministic fleet history (clusters, nodes,
audits with their findings, reboot events, repairs with every step, auto-repair decisions), to
benchmark caulk's reports. caulk makes the schema itself (`caulk serve` runs once on the file and
is stopped); the history is then written with sqlite3, in time order, ids rising with time.

The model in short (the module docstring has it in full: pydoc3 bench/history.py):
  fleet     clusters of 6-40 nodes; VMware (vmxnet3) or KVM (virtio_net); RHEL 8.10 or 9.4;
            Calico 3.26.4 ... 3.29.1, upgraded over time; VXLAN mostly, IP-in-IP in a fifth
  activity  an audit per cluster every other day; a rolling patch reboot about monthly, a
            quarter of a cluster at a time, audited minutes after each batch; unplanned reboots
  failures  F2 (checksum offload) on about 60% of reboots of VXLAN + Calico >= 3.28.0 (not
            3.28.1) + RHEL 9 + vmxnet3 nodes; F4/F5/F6/F3 on about 10% of other VXLAN
            reboots; about 2% of IP-in-IP ones
  repairs   by the auto-repair policy (a third of the clusters) or an operator, with
            calico-recover's real steps; dry-run previews give repair_steps its volume""",
        epilog="""\
examples:
  bench/history.py --database /tmp/caulk-history-bench/caulk.db --nodes 5000 --days 730
      about 3 minutes and 7.5 GB: 115k reboots, 2.8M audited nodes, 1.2M repair steps
  bench/history.py --database /tmp/small.db --nodes 200 --days 60      a quick look""")
    parser.add_argument("--database", required=True, help="SQLite file to fill: new, or without clusters (refused otherwise, exit 2)")
    parser.add_argument("--nodes", type=int, required=True, help="nodes in the fleet, in clusters of 6 to 40")
    parser.add_argument("--days", type=int, required=True, help="days of history, ending now")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed (and --now) gives the same database (default 1)")
    parser.add_argument("--caulk", default=os.path.join(REPO, ".build", "debug", "caulk"),
                        help="caulk binary that creates the schema (default: .build/debug/caulk of this repository)")
    parser.add_argument("--now", help="end of the history, UTC, e.g. 2026-11-30T00:00:00 (default: the current time)")
    parser.add_argument("--preview-hours", type=float, default=1.25,
                        help="how often a dashboard job dry-runs calico-recover on clusters that need a repair; most of the "
                             "repair_steps volume (dry runs count in no report); 0: never (default 1.25)")
    args = parser.parse_args()
    if args.nodes < 6 or args.days < 1:
        parser.error("--nodes must be at least 6 and --days at least 1")

    started = time.monotonic()
    database = os.path.abspath(args.database)
    os.makedirs(os.path.dirname(database), exist_ok=True)
    refuse_unless_empty(database)
    token_file = database + ".admin-token"
    new_file = not os.path.exists(database)
    if new_file and os.path.exists(token_file):
        os.remove(token_file)  # a token of an earlier file of that name
    print(f"creating the schema with {args.caulk} serve ...", flush=True)
    create_schema(os.path.abspath(args.caulk), database, token_file)
    refuse_unless_empty(database)
    if new_file and os.path.exists(token_file):
        print(f"the first admin token is in {token_file}")

    if args.now:
        now_dt = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        if now_dt.tzinfo is None:
            now_dt = now_dt.replace(tzinfo=dt.timezone.utc)
        now = int(now_dt.timestamp() * 1000)
    else:
        now = int(time.time() * 1000)

    db = sqlite3.connect(database, isolation_level="DEFERRED")
    # caulk left the file in WAL mode. For the bulk load: no fsync, and a rollback journal kept in
    # memory (new pages need none), so every page is written once instead of to the WAL and then
    # again at the checkpoint. WAL is set back at the end.
    db.execute("PRAGMA journal_mode = MEMORY")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1000000")
    db.execute("PRAGMA temp_store = MEMORY")
    writer = Writer(db)
    history = History(args, db, writer, now)
    history.build_fleet()
    history.write_inventory()
    print(f"{len(history.clusters)} clusters, {args.nodes} nodes; simulating {args.days} days up to {ts(now)} UTC ...", flush=True)
    history.run()
    history.write_rest()
    db.commit()
    # Back to caulk's journal mode. No ANALYZE: caulk never runs it, so neither do we (statistics
    # would give the reports other query plans than a real database gets).
    db.execute("PRAGMA journal_mode = WAL")

    print("\nrows:")
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for table in tables:
        print(f"  {table:<24} {db.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:>12,}")
    info = db.execute("SELECT count(*), sum(severity != 'info') FROM findings").fetchone()
    counts = history.counts
    print(f"\nfindings at warning or above: {info[1] or 0:,} of {info[0]:,}")
    print(f"reboots: {counts['reboots']:,}; on F2-prone nodes (VXLAN, Calico >= 3.28.0 but not 3.28.1, RHEL 9, vmxnet3): "
          f"{counts['prone_reboots']:,}, F2 after {counts['f2_reboots']:,} "
          f"({100 * counts['f2_reboots'] / max(1, counts['prone_reboots']):.0f}%); some fault after {counts['faulty_reboots']:,} "
          f"({100 * counts['faulty_reboots'] / max(1, counts['reboots']):.0f}%)")
    db.close()
    size = sum(os.path.getsize(database + suffix) for suffix in ("", "-wal", "-shm") if os.path.exists(database + suffix))
    print(f"\n{database}: {size / 2 ** 20:,.0f} MiB, written in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
