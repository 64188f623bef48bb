#!/usr/bin/env python3
"""Checks for Tests/proofs/kill-repair.sh (see the comment at the top of that script for what is
proved and why the checks are sound). Python 3 standard library only.

  kill-repair-check.py at-kill       ROUND_DIR   after kill -9, on a copy of the database files
  kill-repair-check.py after-restart ROUND_DIR   on the live database, before any new repair
  kill-repair-check.py evidence      ROUND_DIR   after the recovery repair: journal + kube audit trail
  kill-repair-check.py duration      DB RUN_ID   seconds a finished run took
  kill-repair-check.py line          ROUND_DIR   the round's one-line report
  kill-repair-check.py summary       ROUNDS_DIR  figures over all rounds

ROUND_DIR/round.json holds the round's facts written by the script (db, run ids, times, offsets,
paths); each subcommand adds its findings to ROUND_DIR/<subcommand>.json and prints one line per
failure. Exit status 0 when the subcommand found nothing wrong, 1 when it did, 2 on usage errors.
"""
import datetime
import glob
import json
import os
import re
import shlex
import sqlite3
import sys

TOL = 0.5  # seconds of slack between the node's clock readings and caulk's (same host clock)
VERIFY = ("verify", "tcp-probe")  # RepairExecution.verifyRepair / verifyStep


# --------------------------------------------------------------------------------------------- io
def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def save(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def ts(text):
    """caulk's stored dates: 'YYYY-MM-DD HH:MM:SS.SSS' in UTC (GRDB), or ISO with T/Z."""
    if text is None:
        return None
    t = str(text).replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(t, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            pass
    raise ValueError("unparsable date %r" % text)


def connect(path, readonly=False):
    uri = "file:%s%s" % (path, "?mode=ro" if readonly else "")
    db = sqlite3.connect(uri, uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


# ------------------------------------------------------------------------------------- playbooks
def block_scalar(lines, i, key_indent):
    """The `command: |` block starting after line i: lines indented deeper than the key."""
    body = []
    j = i + 1
    while j < len(lines):
        ln = lines[j]
        if ln.strip() and (len(ln) - len(ln.lstrip(" "))) <= key_indent:
            break
        body.append(ln)
        j += 1
    while body and not body[-1].strip():
        body.pop()
    ind = min((len(l) - len(l.lstrip(" ")) for l in body if l.strip()), default=0)
    return "\n".join(l[ind:] for l in body) + "\n", j


def playbooks(config_dir):
    """{repair name: {"steps": [(step, scope, on, template)], "repairs": [...]}} from the YAML files,
    read with a few patterns (the files' own layout), so no YAML module is needed."""
    out = {}
    for path in sorted(glob.glob(os.path.join(config_dir, "*.yaml"))):
        with open(path) as f:
            lines = f.read().split("\n")
        pb = {"steps": [], "repairs": [], "kind": None}
        name = None
        in_steps = False
        cur = None
        i = 0
        while i < len(lines):
            ln = lines[i]
            m = re.match(r"^name:\s*(\S+)", ln)
            if m:
                name = m.group(1)
            m = re.match(r"^kind:\s*(\S+)", ln)
            if m:
                pb["kind"] = m.group(1)
            m = re.match(r"^repairs:\s*\[(.*)\]", ln)
            if m:
                pb["repairs"] = [x.strip() for x in m.group(1).split(",") if x.strip()]
            if re.match(r"^steps:\s*$", ln):
                in_steps = True
            elif re.match(r"^\S", ln):
                in_steps = False
            if in_steps:
                m = re.match(r"^  - name:\s*(\S+)", ln)
                if m:
                    cur = {"step": m.group(1), "scope": None, "on": "node", "command": None}
                    pb["steps"].append(cur)
                m = re.match(r"^    scope:\s*(\S+)", ln)
                if m and cur is not None:
                    cur["scope"] = m.group(1)
                m = re.match(r"^    on:\s*(\S+)", ln)
                if m and cur is not None:
                    cur["on"] = m.group(1)
                m = re.match(r"^    command:\s*\|\s*$", ln)
                if m and cur is not None:
                    cur["command"], i = block_scalar(lines, i, 4)
                    continue
            i += 1
        if name:
            out[name] = pb
    return out


QUOTED = r"'(?:[^']|'\\'')*'"  # ShellQuote.quote: '…' with ' written as '\''


def template_regex(template):
    """A rendered command of this template: each {{name}} is a shell-quoted value."""
    parts = re.split(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}", template.rstrip())
    rx = ""
    seen = set()
    for k, part in enumerate(parts):
        if k % 2 == 0:
            rx += re.escape(part)
        elif part in seen:
            rx += "(?P=%s)" % part
        else:
            seen.add(part)
            rx += "(?P<%s>%s)" % (part, QUOTED)
    return re.compile(rx + r"\s*", re.S)


def unquote(value):
    return shlex.split(value)[0] if value else ""


class Classifier:
    """Tells which repair step a command run on a node is: first by the exact commands caulk
    recorded for steps (any run in the database), then by the playbooks' templates."""

    def __init__(self, db, pbs):
        self.exact = {}
        for r in db.execute("SELECT node_name, host, repair, step, command FROM repair_steps WHERE outcome != 'planned'"):
            self.exact.setdefault((r["host"], r["command"]), (r["repair"], r["step"], r["node_name"]))
        self.templates = []
        for name, pb in pbs.items():
            if pb["kind"] != "repair":
                continue
            for s in pb["steps"]:
                if s["command"]:
                    self.templates.append((name, s, template_regex(s["command"])))

    def __call__(self, host, command):
        hit = self.exact.get((host, command))
        if hit:
            return hit
        for name, s, rx in self.templates:
            m = rx.fullmatch(command)
            if not m:
                continue
            if s["scope"] != "each-node":
                return (name, s["step"], None)
            node = host
            if s["on"] == "control-plane":
                g = m.groupdict()
                node = unquote(g.get("node") or "") or None
                if node is None and g.get("k8s_node"):
                    node = unquote(g["k8s_node"])  # short names: k8s name == caulk name in the lab
            return (name, s["step"], node)
        return None


# --------------------------------------------------------------------------------------- journal
WATCHDOG = "exec 3<&0; "


def unwrap(wire):
    """`timeout -k 2 N sh -c '<command>'` (SSHCommand.wire) -> command, else None. Commands that
    take no input run beside a watchdog: `exec 3<&0; timeout ... </dev/null & c=$!; (...) ...`."""
    watched = wire.startswith(WATCHDOG)
    try:
        w = shlex.split(wire[len(WATCHDOG):] if watched else wire)
    except ValueError:
        return None
    if len(w) >= 7 and (len(w) == 7 or watched) and w[0] == "timeout" and w[1] == "-k" and w[4] == "sh" and w[5] == "-c":
        return w[6]
    return None


def journal(jdir):
    """Every command the nodes' shells ran over SSH: {host, t0, t1|None, rc|None, command}."""
    out = []
    for cmdf in glob.glob(os.path.join(jdir, "*", "*.cmd")):
        host = os.path.basename(os.path.dirname(cmdf))
        base = os.path.basename(cmdf)[:-4]
        t0 = float(base.rsplit(".", 1)[0])
        with open(cmdf, errors="replace") as f:
            wire = f.read()
        t1 = rc = None
        try:
            with open(cmdf[:-4] + ".end") as f:
                a, b = f.read().split()
                t1, rc = float(a), int(b)
        except (FileNotFoundError, ValueError):
            pass
        out.append({"host": host, "t0": t0, "t1": t1, "rc": rc, "command": unwrap(wire), "id": base})
    out.sort(key=lambda e: e["t0"])
    return out


def kube_trail(path, start, end):
    """Mutating kube API calls appended to audit.jsonl between byte offsets start and end, each
    with its offset (the lab appends one line per call)."""
    out = []
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end:
            line = f.readline()
            if not line:
                break
            try:
                e = json.loads(line)
            except ValueError:
                e = {"verb": "?", "path": line.decode(errors="replace")}
            e["offset"] = pos
            pos += len(line)
            out.append(e)
    return out


# ------------------------------------------------------------------------------------ the rules
def expected_node_steps(pbs, repairs):
    seq = []
    for r in repairs:
        pb = pbs.get(r)
        if pb is None:
            return None
        seq += [(r, s["step"]) for s in pb["steps"] if s["scope"] == "each-node"]
    return seq + [VERIFY]


def cluster_steps(pbs, repair, scope):
    pb = pbs.get(repair) or {"steps": []}
    return [(repair, s["step"]) for s in pb["steps"] if s["scope"] == scope]


def db_state(db, run_id):
    run = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    nodes = [dict(r) for r in db.execute("SELECT * FROM repair_nodes WHERE run_id = ? ORDER BY position", (run_id,))]
    steps = [dict(r) for r in db.execute("SELECT * FROM repair_steps WHERE run_id = ? ORDER BY id", (run_id,))]
    return (dict(run) if run else None), nodes, steps


def structure(pbs, recover, run, nodes, steps, kill_ts, final):
    """Invariants of one repair's rows. final: after the restart (nothing may be pending/running)."""
    bad = []
    rid = run["id"]
    # every row finished: a real outcome, an exit status, a start and a duration ending before the kill
    for s in steps:
        where = "run %d step %d %s/%s on %s (node %s)" % (rid, s["id"], s["repair"], s["step"], s["host"], s["node_name"])
        if s["outcome"] not in ("ok", "failed", "timed_out", "error"):
            bad.append("%s: outcome %r is not a finished outcome" % (where, s["outcome"]))
        if s["outcome"] in ("ok", "failed") and s["exit_status"] is None:
            bad.append("%s: %s without an exit status" % (where, s["outcome"]))
        if s["outcome"] == "ok" and s["exit_status"] not in (0, None):
            bad.append("%s: ok with exit status %s" % (where, s["exit_status"]))
        if s["duration_ms"] is None or s["duration_ms"] < 0:
            bad.append("%s: duration %r" % (where, s["duration_ms"]))
        try:
            end = ts(s["started_at"]) + (s["duration_ms"] or 0) / 1000.0
            if kill_ts is not None and end > kill_ts + TOL:
                bad.append("%s: recorded as ending %.2f s after the kill" % (where, end - kill_ts))
        except (TypeError, ValueError) as e:
            bad.append("%s: start time %r: %s" % (where, s["started_at"], e))
    ids = [s["id"] for s in steps]
    if ids != sorted(ids):
        bad.append("run %d: step ids out of order" % rid)

    outcomes = ("recovered", "failed", "skipped") if final else ("pending", "running", "recovered", "failed", "skipped")
    by_node = {}
    for s in steps:
        by_node.setdefault(s["node_name"], []).append(s)
    names = {n["node_name"] for n in nodes}
    for name in by_node:
        if name is not None and name not in names:
            bad.append("run %d: steps for %s, which is not in the plan" % (rid, name))
    node_step_ids = [s["id"] for s in steps if s["node_name"] is not None]
    running = 0
    for n in nodes:
        name = n["node_name"]
        got = by_node.get(name, [])
        seq = [(s["repair"], s["step"]) for s in got]
        repairs = json.loads(n["repairs"] or "[]")
        exp = expected_node_steps(pbs, repairs)
        where = "run %d node %s (%s)" % (rid, name, n["outcome"])
        if n["outcome"] not in outcomes:
            bad.append("%s: outcome %r %s" % (where, n["outcome"], "left after the restart" if final else "unknown"))
        if n["outcome"] == "running":
            running += 1
        if exp is None:
            bad.append("%s: repairs %s not all known to the playbooks" % (where, repairs))
            continue
        # no gap: what was recorded is the start of what the node's plan runs, in order
        if seq != exp[:len(seq)]:
            bad.append("%s: steps %s are not the start of its plan %s" % (where, seq, exp))
        if any(s["outcome"] != "ok" for s in got[:-1]):
            bad.append("%s: a step after a failed one" % where)
        if n["outcome"] in ("pending", "skipped") and got:
            bad.append("%s: has %d step(s) but was never touched" % (where, len(got)))
        if n["outcome"] in ("running", "recovered", "failed") and not n["started_at"]:
            bad.append("%s: no start time" % where)
        if n["outcome"] in ("recovered", "failed", "skipped") and final and n["outcome"] != "skipped" and not n["finished_at"]:
            bad.append("%s: no end time" % where)
        if n["outcome"] == "recovered":
            if seq != exp or any(s["outcome"] != "ok" for s in got):
                bad.append("%s: recovered, but its steps are %s, not all of %s ok" % (where, [(a, b, s["outcome"]) for (a, b), s in zip(seq, got)], exp))
        if n["outcome"] == "failed" and got and got[-1]["outcome"] == "ok" and seq == exp and "caulk stopped" not in (n["reason"] or ""):
            bad.append("%s: failed, yet every step including the probe is recorded ok" % where)
    # nodes are touched in plan order: no untouched node before a touched one (batch 1 rollouts;
    # a batch is touched together, so the rule holds for batches too). The rollout is the nodes
    # planned with repairs (a node skipped by the plan has none).
    planned = [n for n in nodes if json.loads(n["repairs"] or "[]")]
    seen_untouched = False
    for n in planned:
        if by_node.get(n["node_name"]) or n["outcome"] in ("running", "recovered", "failed"):
            if seen_untouched:
                bad.append("run %d: node %s was touched after an earlier node of the plan was not" % (rid, n["node_name"]))
        else:
            seen_untouched = True
    # cluster-wide steps: before-steps are a prefix of their repair's and precede every node step;
    # after-steps follow every node step and run only when every planned node recovered
    cl = by_node.get(None, [])
    before = [s for s in cl if (s["repair"], s["step"]) in set(cluster_steps(pbs, s["repair"], "one-control-plane"))]
    after = [s for s in cl if (s["repair"], s["step"]) in set(cluster_steps(pbs, s["repair"], "after-nodes"))]
    for s in cl:
        if s not in before and s not in after:
            bad.append("run %d: cluster-wide step %s/%s is in no playbook's cluster scopes" % (rid, s["repair"], s["step"]))
    if before and node_step_ids and max(s["id"] for s in before) > min(node_step_ids):
        bad.append("run %d: a cluster-wide step after a node step" % rid)
    if after and node_step_ids and min(s["id"] for s in after) < max(node_step_ids):
        bad.append("run %d: an after-nodes step before a node step" % rid)
    order = recover.get("repairs") or []
    bseq = [(s["repair"], s["step"]) for s in before]
    chosen = []
    for r in order:
        if any(r in json.loads(n["repairs"] or "[]") for n in nodes) and cluster_steps(pbs, r, "one-control-plane"):
            chosen.append(r)
    exp_before = [x for r in chosen for x in cluster_steps(pbs, r, "one-control-plane")]
    if bseq != exp_before[:len(bseq)]:
        bad.append("run %d: cluster-wide steps %s are not the start of %s" % (rid, bseq, exp_before))
    if node_step_ids and bseq != exp_before:
        bad.append("run %d: node steps ran, but the cluster-wide steps %s are not all of %s" % (rid, bseq, exp_before))
    if any(s["outcome"] != "ok" for s in before) and node_step_ids:
        bad.append("run %d: node steps after a failed cluster-wide step" % rid)
    if after and not all(n["outcome"] == "recovered" for n in planned):
        bad.append("run %d: after-nodes steps ran, but not every planned node recovered" % rid)
    return bad, running


def phase(run, nodes, steps):
    if run["status"] != "running":
        return "finished(%s)" % run["status"]
    if not nodes:
        return "audit"  # the plan is recorded when the audit before it has finished
    node_steps = [s for s in steps if s["node_name"] is not None]
    running = [n["node_name"] for n in nodes if n["outcome"] == "running"]
    if running:
        last = [s for s in node_steps if s["node_name"] in running]
        return "%s:%s" % (",".join(running), ("after " + last[-1]["step"]) if last else "start")
    if not node_steps:
        return "cluster-steps"
    if any(n["outcome"] == "pending" for n in nodes):
        return "between-nodes"
    after = [s for s in steps if s["node_name"] is None and s["id"] > node_steps[-1]["id"]]
    return "final-audit" if after else "after-nodes"


# ----------------------------------------------------------------------------------- subcommands
def at_kill(rd):
    R = load(os.path.join(rd, "round.json"))
    pbs = playbooks(R["playbooks"])
    res = {"failures": []}
    db = connect(R["snapshot_db"])
    ic = [r[0] for r in db.execute("PRAGMA integrity_check")]
    res["integrity"] = "ok" if ic == ["ok"] else "; ".join(map(str, ic))[:300]
    if ic != ["ok"]:
        res["failures"].append("integrity_check of the database as the kill left it: %s" % res["integrity"])
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        res["failures"].append("foreign_key_check: %d violation(s)" % len(fk))
    run, nodes, steps = db_state(db, R["run_id"])
    if run is None:
        res["failures"].append("run %s is not in the database (its POST was answered before the kill)" % R["run_id"])
        save(os.path.join(rd, "at-kill.json"), res)
        return res
    res["status"] = run["status"]
    res["late"] = run["status"] != "running"
    res["steps"] = len(steps)
    res["phase"] = phase(run, nodes, steps)
    res["nodes"] = {n["node_name"]: n["outcome"] for n in nodes}
    res["step_rows"] = steps
    res["audit_runs"] = {str(r["id"]): r["status"] for r in db.execute(
        "SELECT id, status FROM runs WHERE kind = 'audit' AND id >= ? ORDER BY id", (R["run_id"],))}
    res["running_runs"] = [r[0] for r in db.execute("SELECT id FROM runs WHERE status = 'running'")]
    # The repair's own audit (the first audit run after it) is linked as soon as it is recorded,
    # so `runs show` names it even when the kill came in the middle of it.
    first_audit = min((int(i) for i in res["audit_runs"]), default=None)
    if first_audit is not None and run["audit_before_id"] != first_audit:
        res["failures"].append("run %d: its audit (run %d) is recorded, but audit_before_id is %s" % (R["run_id"], first_audit, run["audit_before_id"]))
    bad, running = structure(pbs, pbs.get(R["playbook"], {}), run, nodes, steps, R["t_kill"], final=False)
    res["failures"] += bad
    width = R.get("batch") or 1
    if running > width:
        res["failures"].append("%d nodes running at once at the kill (batch %d)" % (running, width))
    save(os.path.join(rd, "at-kill.json"), res)
    return res


def after_restart(rd):
    R = load(os.path.join(rd, "round.json"))
    K = load(os.path.join(rd, "at-kill.json"))
    pbs = playbooks(R["playbooks"])
    res = {"failures": []}
    db = connect(R["db"], readonly=True)
    ic = [r[0] for r in db.execute("PRAGMA integrity_check")]
    res["integrity"] = "ok" if ic == ["ok"] else "; ".join(map(str, ic))[:300]
    if ic != ["ok"]:
        res["failures"].append("integrity_check after the restart: %s" % res["integrity"])
    running = [r[0] for r in db.execute("SELECT id FROM runs WHERE status = 'running'")]
    if running:
        res["failures"].append("runs still 'running' after the restart: %s" % running)
    run, nodes, steps = db_state(db, R["run_id"])
    if run is None:
        res["failures"].append("run %s missing after the restart" % R["run_id"])
        save(os.path.join(rd, "after-restart.json"), res)
        return res
    res["status"] = run["status"]
    if K.get("late"):
        if run["status"] != K["status"]:
            res["failures"].append("run %d had ended %s before the kill, and is %s after the restart" % (run["id"], K["status"], run["status"]))
    else:
        if run["status"] != "interrupted":
            res["failures"].append("run %d was running at the kill and is %r after the restart, not 'interrupted'" % (run["id"], run["status"]))
        if not run["finished_at"] or ts(run["finished_at"]) < ts(run["started_at"]):
            res["failures"].append("run %d: finished_at %r" % (run["id"], run["finished_at"]))
        for rid, st in K.get("audit_runs", {}).items():
            now = db.execute("SELECT status FROM runs WHERE id = ?", (int(rid),)).fetchone()
            want = "interrupted" if st == "running" else st
            if now is None or now[0] != want:
                res["failures"].append("audit run %s was %s at the kill and is %s after the restart (want %s)" % (rid, st, now and now[0], want))
    # the restart changed no step: the same rows, byte for byte
    before = K.get("step_rows", [])
    if [dict(s) for s in steps] != before:
        res["failures"].append("run %d: step rows differ between the kill and after the restart (%d -> %d rows)" % (run["id"], len(before), len(steps)))
    was = K.get("nodes", {})
    for n in nodes:
        w = was.get(n["node_name"])
        want = {"running": "failed", "pending": "skipped"}.get(w, w)
        if n["outcome"] != want:
            res["failures"].append("run %d node %s: %s at the kill, %s after the restart (want %s)" % (run["id"], n["node_name"], w, n["outcome"], want))
        if w in ("running", "pending") and "caulk stopped" not in (n["reason"] or ""):
            res["failures"].append("run %d node %s: reason %r does not say caulk stopped" % (run["id"], n["node_name"], n["reason"]))
    bad, _ = structure(pbs, pbs.get(R["playbook"], {}), run, nodes, steps, R["t_kill"], final=True)
    res["failures"] += bad
    save(os.path.join(rd, "after-restart.json"), res)
    return res


def evidence(rd):
    """The node-side journal and the kube API audit trail against the killed run's step rows."""
    R = load(os.path.join(rd, "round.json"))
    K = load(os.path.join(rd, "at-kill.json"))
    pbs = playbooks(R["playbooks"])
    res = {"failures": [], "notes": []}
    db = connect(R["db"], readonly=True)
    classify = Classifier(db, pbs)
    run, nodes, steps = db_state(db, R["run_id"])
    # steps of the repairs the new server ran since (they explain the kube calls after the restart)
    rec_ids = [int(x) for x in R.get("recovery_run_ids") or []]
    rec_steps = [dict(r) for r in db.execute(
        "SELECT * FROM repair_steps WHERE run_id IN (%s) ORDER BY id" % ",".join("?" * len(rec_ids)), rec_ids)] if rec_ids else []
    t_post, t_kill, t_restart = R["t_post"], R["t_kill"], R["t_restart"]
    # commands the killed server started: after the POST, before the new server began
    J = [e for e in journal(R["journal"]) if t_post - TOL <= e["t0"] < t_restart]
    used = set()

    # 1. every step the database calls finished ran to its end on its host, with that exit status,
    #    inside the step's recorded time, and before the kill
    for s in steps:
        where = "step %d %s/%s on %s (node %s)" % (s["id"], s["repair"], s["step"], s["host"], s["node_name"])
        start = ts(s["started_at"])
        end = start + s["duration_ms"] / 1000.0
        if (s["repair"], s["step"]) == VERIFY and s["command"].startswith("#"):
            continue  # "no healthy peer to probe": nothing was run, and the row says so
        if s["outcome"] == "error":
            continue  # never ran (connection refused…): no node-side trace expected
        cands = [e for e in J if e["id"] not in used and e["host"] == s["host"] and e["command"] == s["command"]
                 and e["t1"] is not None and start - TOL <= e["t0"] and e["t1"] <= end + TOL]
        if (s["repair"], s["step"]) == VERIFY:
            if not cands:
                res["failures"].append("%s: recorded %s, but no probe ran to its end on %s in its time" % (where, s["outcome"], s["host"]))
            for e in cands:
                used.add(e["id"])
            continue
        match = [e for e in cands if s["outcome"] == "timed_out" or e["rc"] == s["exit_status"]]
        if not match:
            res["failures"].append("%s: recorded %s (exit %s), but the node shows no such command finishing in its time (%s)"
                                   % (where, s["outcome"], s["exit_status"],
                                      ", ".join("rc %s %.2f-%s" % (e["rc"], e["t0"] - start, e["t1"] and "%.2f" % (e["t1"] - start)) for e in cands) or "none"))
            continue
        e = match[0]
        used.add(e["id"])
        if e["t1"] > t_kill + TOL:
            res["failures"].append("%s: recorded before the kill, but finished on the node %.2f s after it" % (where, e["t1"] - t_kill))

    # 2. what ran to completion (or was running) on the nodes but is not recorded: allowed only as
    #    the single step in flight of each chain (a node being repaired, or the cluster-wide steps),
    #    and only the step that comes next in that chain's plan
    by_node = {}
    for s in steps:
        by_node.setdefault(s["node_name"], []).append((s["repair"], s["step"]))
    at_kill_nodes = K.get("nodes", {})
    extras = {}
    other = 0
    for e in J:
        if e["id"] in used:
            continue
        if e["command"] is None:
            other += 1  # not a single-step command (audit batches, which set their own EXIT trap, never land here)
            continue
        c = classify(e["host"], e["command"])
        if c is None:
            other += 1
            continue
        chain = c[2]
        extras.setdefault(chain, []).append((c[0], c[1], e))
    inflight = []
    for chain, xs in extras.items():
        kinds = sorted({(a, b) for a, b, _ in xs})
        done_unrec = [e for _, _, e in xs if e["t1"] is not None and e["t1"] <= t_kill]
        label = chain or "(cluster)"
        if len(kinds) > 1:
            res["failures"].append("%s: %d different steps ran on the nodes but are not recorded: %s" % (label, len(kinds), kinds))
            continue
        step = kinds[0]
        rec = by_node.get(chain, [])
        if chain is None:
            node_started = any(n is not None for n in by_node)
            chosen = [r for r in (pbs.get(R["playbook"], {}).get("repairs") or [])
                      if any(r in json.loads(n["repairs"] or "[]") for n in nodes) and cluster_steps(pbs, r, "one-control-plane")]
            befores = [x for r in chosen for x in cluster_steps(pbs, r, "one-control-plane")]
            afters = [x for r in [R["playbook"]] + chosen for x in cluster_steps(pbs, r, "after-nodes")]
            rec_b = [x for x in rec if x in befores]
            rec_a = [x for x in rec if x in afters]
            nxt = befores[len(rec_b)] if len(rec_b) < len(befores) and not node_started else (
                afters[len(rec_a)] if len(rec_a) < len(afters) else None)
            ok = step == nxt
        else:
            n = next((n for n in nodes if n["node_name"] == chain), None)
            exp = expected_node_steps(pbs, json.loads(n["repairs"] or "[]")) if n else None
            nxt = exp[len(rec)] if exp and len(rec) < len(exp) else None
            ok = at_kill_nodes.get(chain) == "running" and step == nxt
        if not ok:
            res["failures"].append("%s: %s/%s ran on the nodes (%d time(s), %d finished before the kill) but is not recorded, and it is not the "
                                   "step in flight (recorded %s; next in plan %s; node %s at the kill)"
                                   % (label, step[0], step[1], len(xs), len(done_unrec), rec, nxt, at_kill_nodes.get(chain)))
            continue
        last = max((e for _, _, e in xs), key=lambda e: e["t0"])
        inflight.append({"chain": label, "step": "%s/%s" % step, "runs": len(xs), "finished_before_kill": len(done_unrec),
                         "finished": sum(1 for _, _, e in xs if e["t1"] is not None),
                         # the last run of it: when it ended on the node, relative to the kill, and how
                         "end_after_kill": None if last["t1"] is None else round(last["t1"] - t_kill, 2), "rc": last["rc"]})
    running_at_kill = sum(1 for v in at_kill_nodes.values() if v == "running")
    if len([x for x in inflight if x["chain"] != "(cluster)"]) > max(running_at_kill, 0):
        res["failures"].append("%d node chains with an unrecorded step, %d node(s) running at the kill" % (len(inflight), running_at_kill))
    res["inflight"] = inflight
    res["other_commands"] = other

    # 3. the kube API audit trail: each recorded pod restart / override patch happened before the
    #    kill; every mutating call since the POST is one a recorded step made, or the step in flight
    trail = kube_trail(R["kube_audit"], R["kube_off_start"], R["kube_off_end"])
    muts = [e for e in trail if e.get("verb") in ("DELETE", "PATCH", "PUT", "POST")]
    flight_kinds = {x["step"] for x in inflight}

    def deleted(s):
        return re.findall(r'pod "([^"]+)" deleted', s["stdout"] or "")

    def patched(s):
        return s["outcome"] == "ok" and "->" in (s["stdout"] or "")

    explained = set()
    for s, killed in [(s, True) for s in steps] + [(s, False) for s in rec_steps]:
        if s["step"] == "restart-calico-node":
            names = deleted(s)
            if s["outcome"] == "ok" and not names:
                res["failures"].append("run step %d restart-calico-node ok, but its output names no deleted pod" % s["id"])
            for name in names:
                hit = [e for e in muts if e["verb"] == "DELETE" and e.get("path", "").endswith("/pods/" + name) and e["offset"] not in explained]
                if killed:
                    hit = [e for e in hit if e["offset"] < R["kube_off_kill"]]
                if not hit:
                    res["failures"].append("step %d %s/restart-calico-node (node %s): pod %s is recorded deleted, but the kube API saw no DELETE of it%s"
                                           % (s["id"], s["repair"], s["node_name"], name, " before the kill" if killed else ""))
                else:
                    explained.add(hit[0]["offset"])
        elif s["step"] in ("felix-override", "cluster-mtu") and patched(s):
            res_name = {"felix-override": "felixconfigurations", "cluster-mtu": ""}[s["step"]]
            hit = [e for e in muts if e["verb"] == "PATCH" and res_name in e.get("path", "") and e["offset"] not in explained]
            if killed:
                hit = [e for e in hit if e["offset"] < R["kube_off_kill"]]
            if not hit:
                res["failures"].append("step %d %s/%s: recorded a change, but the kube API saw no PATCH%s"
                                       % (s["id"], s["repair"], s["step"], " before the kill" if killed else ""))
            else:
                explained.add(hit[0]["offset"])
    unexplained = [e for e in muts if e["offset"] not in explained]
    allowed = 0
    for x in inflight:
        if x["step"].endswith("/restart-calico-node") or x["step"].endswith("/felix-override") or x["step"].endswith("/cluster-mtu"):
            allowed += 1
    # a step in flight whose command never ended (still running or killed) is not in `inflight`
    # when it finished nowhere; count commands the killed server started on the control plane
    if len(unexplained) > allowed:
        res["failures"].append("the kube API saw %d mutating call(s) no recorded step made (%s); steps in flight that could: %d"
                               % (len(unexplained), ", ".join("%s %s" % (e.get("verb"), e.get("path")) for e in unexplained), allowed))
    res["kube_mutations"] = len(muts)
    res["kube_unexplained"] = len(unexplained)
    save(os.path.join(rd, "evidence.json"), res)
    return res


def line(rd):
    R = load(os.path.join(rd, "round.json"))
    K = load(os.path.join(rd, "at-kill.json"), {}) or {}
    A = load(os.path.join(rd, "after-restart.json"), {}) or {}
    E = load(os.path.join(rd, "evidence.json"), {}) or {}
    fails = K.get("failures", []) + A.get("failures", []) + E.get("failures", []) + R.get("failures", [])
    def fate(x):  # what became of the step in flight on its node
        if x.get("end_after_kill") is None:
            return "(no end)"
        if x["end_after_kill"] <= 0:
            return "(ended before kill)"
        return "(ran on +%.1fs, rc %s)" % (x["end_after_kill"], x["rc"])
    inflight = ",".join("%s:%s%s" % (x["chain"], x["step"], fate(x)) for x in E.get("inflight", [])) or "-"
    result = "FAIL" if fails else ("late" if K.get("late") else "ok")
    print("round %2d  set %d  kill %5.2fs (%2.0f%%)  steps-at-kill %2s  phase %-26s  in-flight %-58s  integrity %s/%s  "
          "after-restart %-11s  new-repair %-9s  %s"
          % (R["round"], R.get("fault_set", 1), R["delay_actual"], 100.0 * R["delay_actual"] / R["duration"], K.get("steps", "?"),
             K.get("phase", "?"), inflight, K.get("integrity", "?"), A.get("integrity", "?"), A.get("status", "?"),
             R.get("recovery") or "?", result), flush=True)
    for f in fails:
        print("    FAIL: " + f)
    return 1 if fails else 0


def summary(rounds_dir):
    sets = {}
    for rd in sorted(glob.glob(os.path.join(rounds_dir, "*"))):
        R = load(os.path.join(rd, "round.json"))
        if R is None:
            continue
        K = load(os.path.join(rd, "at-kill.json"), {}) or {}
        E = load(os.path.join(rd, "evidence.json"), {}) or {}
        sets.setdefault(R.get("fault_set", 1), []).append((R, K, E))
    for k, rows in sorted(sets.items()):
        ks = sorted(R["delay_actual"] for R, _, _ in rows)
        phases = {}
        for _, K, _ in rows:
            p = K.get("phase", "?")
            p = re.sub(r":after .*|:start", ":node-steps", p)
            phases[p] = phases.get(p, 0) + 1
        steps = [K.get("steps") or 0 for _, K, _ in rows]
        done = sum(1 for _, _, E in rows if any(x["finished_before_kill"] for x in E.get("inflight", [])))
        fl = sum(1 for _, _, E in rows if E.get("inflight"))
        print("kill-repair: set %d (%s): %d rounds, kills %.2f-%.2f s after the POST of a %.2f s repair, %d-%d steps recorded at the kill"
              % (k, rows[0][0].get("faults", "?"), len(rows), ks[0], ks[-1], rows[0][0]["duration"], min(steps), max(steps)))
        print("kill-repair:   phases at the kill: %s" % ", ".join("%s %d" % kv for kv in sorted(phases.items())))
        on = sum(1 for _, _, E in rows if any((x.get("end_after_kill") or 0) > 0 for x in E.get("inflight", [])))
        print("kill-repair:   rounds with a step in flight: %d (it had ended on its node before the kill, unrecorded: %d; "
              "it ran on after the kill: %d)" % (fl, done, on))
    return 0


def duration(dbpath, run_id):
    db = connect(dbpath, readonly=True)
    r = db.execute("SELECT started_at, finished_at, status FROM runs WHERE id = ?", (int(run_id),)).fetchone()
    if r is None or r["finished_at"] is None:
        print("run %s not finished" % run_id, file=sys.stderr)
        return 1
    print("%.3f %s" % (ts(r["finished_at"]) - ts(r["started_at"]), r["status"]))
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "duration":
        return duration(argv[2], argv[3])
    if cmd == "line":
        return line(argv[2])
    if cmd == "summary":
        return summary(argv[2])
    fn = {"at-kill": at_kill, "after-restart": after_restart, "evidence": evidence}.get(cmd)
    if fn is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        res = fn(argv[2])
    except Exception as e:  # a checker crash is a failed round, with why
        import traceback
        traceback.print_exc()
        res = {"failures": ["checker %s crashed: %s: %s" % (cmd, type(e).__name__, e)]}
        save(os.path.join(argv[2], cmd + ".json"), res)
    return 1 if res.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
