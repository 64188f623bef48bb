#!/usr/bin/env bash
# Proof: when `caulk serve` dies by kill -9 in the middle of a repair, caulk loses nothing and lies
# about nothing: the database is intact, every step it recorded as finished really ran to its end
# on the node, no step that ran to its end is missing except the one in flight at the kill, and a
# restarted server marks the run `interrupted`, releases the cluster's repair lock and repairs the
# cluster to health.
#
#   Tests/proofs/kill-repair.sh                 # uses .build/debug/caulk; BIN=... for another
#   ROUNDS=5 Tests/proofs/kill-repair.sh
#
# Needs root, the lab's packages (lab/install-deps.sh) and python3; installs nothing. If no lab is
# up it brings one up (`caulk-lab up $LAB_UP_ARGS`, default --clusters 1 --nodes 4) and takes it
# down at the end (LAB_KEEP=1 leaves it up); a lab that was already up is used as it is and left up.
# Only the lab's namespaced addresses (198.18.0.0/15) and 127.0.0.1 are contacted.
#
# Knobs: ROUNDS (20), CLUSTER (lab1), FAULT_SETS (see below), SEED (random), KEEP_WORK=1 (keep the
# temp dir; it is kept anyway when a round fails), LAB_UP_ARGS.
#
# FAULT_SETS: fault sets separated by "|", each FAULT:NODE ... (NODE as nN of CLUSTER, or a full
# name); round r injects set (r-1) mod count. Default "offload:n2 stale-vxlan:n3 firewall:n4|offload:n2":
#   - the first makes three repairs in one run: the cluster-wide felix-override, then node by node
#     offload-off (n2), vxlan-reset (n3: evidence, delete-device, restart-calico-node through the
#     kube API, wait-device) and firewall-open (n4), each node's TCP probe, calico-pods-ready;
#     a full repair takes ~18 s here, most of it the two audits (probes to dead nodes time out);
#   - the second (F2 alone: ICMP passes, TCP fails) takes ~10 s, and keeps 20 rounds within about
#     8 minutes on two cores.
# (n2 is the lab's vmxnet3 node in a 4-node cluster: offload only breaks TCP there.)
#
# ---------------------------------------------------------------------------------------------
# How a round goes
#   1. inject the round's fault set (a healthy cluster before: the previous round ended with
#      `caulk-lab verify`);
#   2. `caulk repair CLUSTER --no-wait` (POST /v1/repairs), then kill -9 the server by its PID at a
#      moment drawn from the whole repair: before the rounds, one full, unkilled repair of each
#      fault set measures its duration D, and the moments of the set's rounds are stratified over
#      [0.02 D, 0.9 D] (one moment drawn uniformly in each of as many equal slices as the set has
#      rounds, slices in random order), so the audit before, the cluster-wide steps, every node's
#      steps and the audit after are all hit;
#   3. copy the database and its WAL as the kill left them (the checks read the copy; the restarted
#      server does its own crash recovery on the untouched files), check them ("at-kill");
#   4. restart `caulk serve` on the same database, check what it made of the killed run
#      ("after-restart"), before anything else runs;
#   5. start a new repair of the cluster: it must be accepted (the lock was released) and end
#      `succeeded`, and `caulk-lab verify CLUSTER` must pass (else the nodes are cleared, and the
#      round fails). One exception, shown as "failed*+succeeded": a new repair that ran no step and
#      ended `failed` with "nothing calico-recover can repair; the cluster is degraded" (right after
#      a kill, calico-node readiness can still lag a datapath the killed run had already fixed) is
#      accepted when the cluster then passes verify and a further repair succeeds;
#   6. compare the killed run's rows with evidence from outside the database ("evidence").
#
# What is checked, and why it is sound
#   Database (the schema: Migrations/0002_runs.sql, 0004_repairs.sql; writers: Sources/CaulkStore/
#   Store+Repairs.swift, Store+Runs.swift; the runner: Sources/CaulkDomain/Repairs/). A repair is a
#   `runs` row (kind repair, its audits are runs of their own), `repair_nodes` (its plan: one row
#   per node with the repairs chosen and an outcome pending|running|recovered|failed|skipped) and
#   `repair_steps`, a row INSERTed only when a step has finished (outcome ok|failed|timed_out|error,
#   exit status, started_at, duration_ms): a step in flight has no row at all, which is how
#   "explicitly not finished" looks in this schema.
#   - at-kill, on the copy: PRAGMA integrity_check is `ok` (and foreign_key_check is empty); every
#     step row has a finished outcome, an exit status when it ran (ok/failed), a start and a
#     duration, and start + duration <= the kill moment (+0.5 s); per node, the steps recorded are
#     the start of that node's plan in order (each chosen repair's each-node steps in playbook
#     order, then verify/tcp-probe), with no step after a failed one: no gap, no finished step after
#     an unfinished one; a node pending or skipped has no step; a recovered node has all its steps
#     ok; nodes are touched in plan order; cluster-wide steps come before every node step and are
#     complete before the first node step, after-nodes steps (calico-pods-ready) come after all of
#     them and only when every planned node recovered; at most `batch` (1: the plan is disruptive)
#     nodes are running. The plan's step lists are read from config/playbooks/*.yaml.
#   - after-restart, on the live database: integrity ok; no run is `running`; the killed run is
#     `interrupted` with an end time (a run that had already ended before the kill keeps its
#     status and the round counts as "late", not as a kill mid-repair); the audit run that was
#     running is `interrupted`; the step rows are exactly those at the kill (the restart invents no
#     step); a node running at the kill is `failed`, a pending one `skipped`, both saying caulk
#     stopped; the rules above hold again with no node pending or running.
#   - evidence, independent of the database:
#     (a) a journal written by the nodes' own shells: this script puts a /root/.bashrc on every node
#         of the cluster (root's home is a per-node tmpfs; bash sources it for ssh commands) that
#         records, for each command sshd runs, the command and its start in JOURNAL/<node>/<t0>.<pid>.cmd
#         and, from an EXIT trap, the end time and exit status in .end. caulk runs each repair step
#         as its own `timeout -k 2 N sh -c '<command>'` (SSHCommand.wire), so the journal holds each
#         step's exact command (the one stored in repair_steps.command), its exit status and when it
#         ended. The trap runs before the shell exits, i.e. before sshd can send the exit status to
#         caulk, so a step caulk saw finish is always in the journal. (Audit batches are one script
#         per node that sets its own EXIT trap, replacing ours: they leave a .cmd without .end and,
#         not being a single `timeout … sh -c` command, are never taken for a step. Nothing else
#         logs in as root on these nodes while the proof runs; `caulk-lab inject/clear/exec` enter
#         the namespaces directly, not through sshd.)
#         Every step row of the killed run (except a verify row whose command is "# no healthy peer",
#         which ran nothing, and an `error` row, which never ran) must match a journal entry on its
#         host with the same command, inside the row's time, ended before the kill, with the row's
#         exit status: nothing recorded finished that did not finish.
#         Every other journal entry started by the killed server (after the POST, before the
#         restart) that is a repair step (by its exact command as recorded by any run, else by the
#         playbooks' templates) must be the step in flight of its chain (a node's steps, or the
#         cluster-wide ones): exactly the next step of that chain's plan after what was recorded, of
#         a node that was `running` at the kill (or the next cluster-wide step), one step kind per
#         chain (verify's probe may have run several attempts), and no more chains than nodes
#         running. So a step that finished on a node but is missing from the database is a failure
#         unless it is the one caulk was about to record when it died; a step that ran after a gap is
#         a failure too. The round's line shows what became of the step in flight on its node:
#         "(ended before kill)" (finished, not yet recorded), "(ran on +Ns, rc R)" (kept running
#         after caulk died: sshd does not stop a command without a terminal when the connection
#         drops; rc 141 = it died of SIGPIPE writing to the closed channel), "(no end)".
#     (b) the lab's kube API audit trail (clusters/<c>/audit.jsonl, one line per mutating call, in
#         order; byte offsets taken before the POST, right after the kill and after the recovery):
#         a restart-calico-node row names the pod it deleted (`pod "..." deleted`), and that DELETE
#         must be in the trail before the kill offset; a felix-override (or cluster-mtu) row that
#         says it changed something ("->") must have its PATCH before the kill; and every mutating
#         call since the POST must be one that a recorded step (killed run or recovery) made, or one
#         of at most as many as there are API-mutating steps in flight.
#   A failed check prints the exact rows and journal entries involved; the temp dir (databases,
#   journal, server logs, per-round JSON) is kept for inspection.
# ---------------------------------------------------------------------------------------------
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-.build/debug/caulk}
ROUNDS=${ROUNDS:-20}
CLUSTER=${CLUSTER:-lab1}
FAULT_SETS=${FAULT_SETS:-"offload:n2 stale-vxlan:n3 firewall:n4|offload:n2"}
SEED=${SEED:-$RANDOM}
LAB_UP_ARGS=${LAB_UP_ARGS:---clusters 1 --nodes 4}
LAB=$ROOT/lab/caulk-lab
CHECK=$ROOT/Tests/proofs/kill-repair-check.py
T0=$SECONDS

say() { printf 'kill-repair: %s\n' "$*"; }
die() { printf 'kill-repair: %s\n' "$*" >&2; exit 2; }
now() { date +%s.%N; }

[[ $(id -u) == 0 ]] || die "needs root (the lab does)"
[[ -x $BIN ]] || die "no caulk binary at $BIN; build it first (swift build --product caulk) or set BIN"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive number"
command -v python3 >/dev/null || die "needs python3"

# The nodes see the host's file system except /etc, /var/lib and /root: the journal lives in /tmp.
work=$(mktemp -d /tmp/caulk-kill-repair.XXXXXX)
chmod 0700 "$work"
CAULK=$work/caulk
cp "$BIN" "$CAULK" || die "cannot copy $BIN"   # others may rebuild the tree while this runs
db=$work/caulk.db
journal=$work/journal
mkdir -p "$journal" "$work/rounds"
server_pid=""
brought_up=0
nodes=()
failed=0

stop_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    server_pid=""
}

cleanup() {
    local rc=$?
    stop_server
    if ((brought_up)) && [[ ${LAB_KEEP:-0} != 1 ]]; then
        "$LAB" down >/dev/null 2>&1 || say "caulk-lab down failed"
    elif "$LAB" status >/dev/null 2>&1; then
        for n in "${nodes[@]}"; do   # leave the lab's nodes as they were
            "$LAB" exec "$n" 'if grep -q caulk-kill-repair /root/.bashrc 2>/dev/null; then rm -f /root/.bashrc; [ -f /root/.bashrc.kill-repair-orig ] && mv /root/.bashrc.kill-repair-orig /root/.bashrc; fi; true' >/dev/null 2>&1
        done
    fi
    if ((failed)) || [[ ${KEEP_WORK:-0} == 1 ]] || [[ $rc != 0 ]]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the lab ---------------------------------------------------------------------------------
if ! "$LAB" status >/dev/null 2>&1; then
    say "no lab is up: caulk-lab up $LAB_UP_ARGS"
    brought_up=1   # from here on, ours to take down (down is idempotent, also after a failed up)
    # shellcheck disable=SC2086
    "$LAB" up $LAB_UP_ARGS >"$work/lab-up.log" 2>&1 || { cat "$work/lab-up.log" >&2; die "caulk-lab up failed"; }
fi
"$LAB" status -o json >"$work/lab.json" || die "caulk-lab status failed"
read -r kube_audit ssh_user < <(python3 - "$work/lab.json" "$CLUSTER" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["clusters"] if c["name"] == sys.argv[2]]
if c:
    print(c[0]["audit_log"], c[0].get("ssh_user", "root"))
EOF
) || die "no cluster $CLUSTER in the lab"
mapfile -t nodes < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("\n".join(n["name"] for c in d["clusters"] if c["name"] == sys.argv[2] for n in c["nodes"]))' "$work/lab.json" "$CLUSTER")
[[ $ssh_user == root ]] || die "cluster $CLUSTER logs in as $ssh_user: the node journal needs root logins (no sudo variant)"
sets=()   # each: "fault:node fault:node ..."
IFS='|' read -ra raw_sets <<<"$FAULT_SETS"
for raw in "${raw_sets[@]}"; do
    set_=""
    for f in $raw; do
        kind=${f%%:*} node=${f#*:}
        [[ $node == "$CLUSTER"-* ]] || node=$CLUSTER-$node
        printf '%s\n' "${nodes[@]}" | grep -qx -- "$node" || die "fault $f: no node $node in $CLUSTER"
        set_+="${set_:+ }$kind:$node"
    done
    [[ -n $set_ ]] && sets+=("$set_")
done
((${#sets[@]})) || die "FAULT_SETS names no fault"
say "cluster $CLUSTER (${#nodes[@]} nodes), $ROUNDS rounds, seed $SEED, work dir $work"
for i in "${!sets[@]}"; do say "fault set $((i + 1)): ${sets[$i]}"; done

heal() {  # the cluster back to the lab's healthy state, when a repair did not manage it
    local n
    for n in "${nodes[@]}"; do "$LAB" clear "$n" >/dev/null 2>&1; done
    "$LAB" verify "$CLUSTER" --wait 60 >"$work/heal-verify.log" 2>&1
}
"$LAB" verify "$CLUSTER" --wait 30 >"$work/verify0.log" 2>&1 \
    || { say "cluster not healthy at the start: clearing its nodes"; heal || die "cluster $CLUSTER is not healthy (see $work/heal-verify.log)"; }

# The node journal (see the top of this file).
for n in "${nodes[@]}"; do
    mkdir -p "$journal/$n"
    "$LAB" exec "$n" "[ -f /root/.bashrc ] && ! grep -q caulk-kill-repair /root/.bashrc && mv /root/.bashrc /root/.bashrc.kill-repair-orig
cat > /root/.bashrc <<'EOF'
# caulk-kill-repair: journal of the commands sshd runs (Tests/proofs/kill-repair.sh)
# (silent, and a no-op once its directory is gone: it must never change what a command prints)
if [ -n \"\${BASH_EXECUTION_STRING-}\" ] && [ -n \"\${SSH_CONNECTION-}\" ] && [ -d $journal/$n ]; then
  __kr_f=$journal/$n/\$(date +%s.%N).\$\$
  printf %s \"\$BASH_EXECUTION_STRING\" 2>/dev/null > \"\$__kr_f.cmd\"
  trap '__kr_rc=\$?; printf \"%s %s\\n\" \"\$(date +%s.%N)\" \"\$__kr_rc\" 2>/dev/null > \"\$__kr_f.end\"' EXIT
fi
EOF" || die "could not install the journal on $n"
done

# --- the server ----------------------------------------------------------------------------------
starts=0
start_server() {
    starts=$((starts + 1))
    local log=$work/serve.$starts.log url=""
    ( cd "$work" && exec "$CAULK" serve --listen 127.0.0.1:0 --database "$db" --bootstrap-token-file "$work/admin.token" ) >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 600); do
        url=$(sed -n 's/^caulk: listening on \(http:[^ ]*\) .*/\1/p' "$log")
        [[ -n $url ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z $url ]]; then
        cat "$log" >&2
        server_pid=""
        return 1
    fi
    export CAULK_URL=$url
}
start_server || die "caulk serve did not start"
export CAULK_TOKEN
CAULK_TOKEN=$(cat "$work/admin.token")
"$LAB" inventory --format caulk >"$work/inventory.yaml" || die "caulk-lab inventory failed"
"$CAULK" inventory import "$work/inventory.yaml" >/dev/null || die "inventory import failed"
"$CAULK" nodes trust "$CLUSTER" >/dev/null || die "caulk nodes trust failed"   # pins any node the inventory left without a key
unpinned=$("$CAULK" nodes list --cluster "$CLUSTER" -o json | python3 -c 'import json,sys; print(" ".join(n["name"] for n in json.load(sys.stdin) if not n.get("host_key")))')
[[ -z $unpinned ]] || die "host keys not pinned: $unpinned"

inject() {  # a fault set, in parallel (one caulk-lab process per fault)
    local f pids=() rc=0
    for f in $1; do "$LAB" inject "${f%%:*}" "${f#*:}" >/dev/null & pids+=($!); done
    for f in "${pids[@]}"; do wait "$f" || rc=1; done
    return $rc
}
size() { stat -c %s "$kube_audit"; }
post_repair() {  # POST a repair; its run id, or nothing when refused (why in $1.err)
    "$CAULK" repair "$CLUSTER" --no-wait -o json >"$1.json" 2>"$1.err" \
        && python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$1.json"
}
wait_run() {  # GET /v1/runs/ID until it is no longer running; prints its status
    python3 - "$CAULK_URL" "$CAULK_TOKEN" "$1" "${2:-600}" <<'EOF'
import json, sys, time, urllib.request
url, token, rid, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.time() + limit
while True:
    try:
        req = urllib.request.Request("%s/v1/runs/%s" % (url, rid), headers={"Authorization": "Bearer " + token})
        st = json.load(urllib.request.urlopen(req, timeout=10))["run"]["status"]
    except Exception as e:
        st = "error(%s)" % e
    if st != "running" or time.time() > end:
        print(st if st != "running" else "timeout")
        break
    time.sleep(0.1)
EOF
}

# --- calibration: one whole repair of each fault set, not killed -----------------------------------
durations=()
for i in "${!sets[@]}"; do
    inject "${sets[$i]}" || die "caulk-lab inject failed"
    cal_id=$(post_repair "$work/calibration.$i") || die "the calibration repair was refused: $(cat "$work/calibration.$i.err")"
    cal_status=$(wait_run "$cal_id")
    [[ $cal_status == succeeded ]] || die "the calibration repair (run $cal_id) ended $cal_status"
    read -r d _ < <(python3 "$CHECK" duration "$db" "$cal_id")
    durations+=("$d")
    "$LAB" verify "$CLUSTER" --wait 30 >/dev/null 2>&1 || heal || die "cluster not healthy after the calibration repair"
    cal_steps=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from repair_steps where run_id=?", (int(sys.argv[2]),)).fetchone()[0])' "$db" "$cal_id")
    say "fault set $((i + 1)): a full repair (run $cal_id) takes ${d}s, $cal_steps steps; kill moments stratified over [0.02, 0.9] x ${d}s"
done
# delays[r-1]: the kill moment of round r, in s after the POST
mapfile -t delays < <(python3 - "$ROUNDS" "$SEED" "${durations[@]}" <<'EOF'
import random, sys
n, seed, ds = int(sys.argv[1]), int(sys.argv[2]), [float(x) for x in sys.argv[3:]]
rng = random.Random(seed)
out = [None] * n
for k, d in enumerate(ds):
    rounds = [r for r in range(n) if r % len(ds) == k]
    lo, hi = 0.02 * d, 0.9 * d
    w = (hi - lo) / max(len(rounds), 1)
    moments = [lo + w * (i + rng.random()) for i in range(len(rounds))]
    rng.shuffle(moments)
    for r, m in zip(rounds, moments):
        out[r] = m
print("\n".join("%.3f" % m for m in out))
EOF
)

# --- rounds ----------------------------------------------------------------------------------------
ok=0 late=0 bad=0
for ((r = 1; r <= ROUNDS; r++)); do
    rd=$work/rounds/$(printf %02d "$r")
    mkdir -p "$rd"
    si=$(((r - 1) % ${#sets[@]}))
    delay=${delays[$((r - 1))]}
    D=${durations[$si]}
    round_fail=()
    rec_id="" rec2="" rec_status="" t_restart="" off_end=""
    write_round() {
        cat >"$rd/round.json" <<EOF
{"round": $r, "fault_set": $((si + 1)), "faults": "${sets[$si]}", "run_id": $run_id, "recovery_run_ids": [${rec_id:-}${rec2:+, $rec2}], "recovery": "${rec_status:-}",
 "db": "$db", "snapshot_db": "$rd/snapshot/caulk.db", "playbooks": "$ROOT/config/playbooks", "playbook": "calico-recover",
 "batch": null, "t_post": $t_post, "t_kill": $t_kill, "t_restart": ${t_restart:-null},
 "delay": $delay, "delay_actual": $(awk -v a="$t_kill" -v b="$t_post" 'BEGIN { printf "%.3f", a - b }'), "duration": $D,
 "journal": "$journal", "kube_audit": "$kube_audit", "kube_off_start": $off_start, "kube_off_kill": $off_kill, "kube_off_end": ${off_end:-$off_kill},
 "failures": $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${round_fail[@]}")}
EOF
    }

    inject "${sets[$si]}" || round_fail+=("caulk-lab inject failed")
    off_start=$(size)
    t_post=$(now)
    if ! run_id=$(post_repair "$rd/post"); then
        say "round $r: the repair was refused: $(cat "$rd/post.err")"
        failed=1 bad=$((bad + 1))
        continue
    fi
    sleep "$(awk -v a="$t_post" -v d="$delay" -v b="$(now)" 'BEGIN { s = a + d - b; printf "%.3f", (s > 0 ? s : 0) }')"
    t_kill=$(now)
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null
    server_pid=""
    off_kill=$(size)
    mkdir -p "$rd/snapshot"
    for f in "$db" "$db-wal"; do [[ -f $f ]] && cp "$f" "$rd/snapshot/"; done
    write_round
    # the copy is checked while the server restarts on the original
    python3 "$CHECK" at-kill "$rd" >"$rd/at-kill.out" 2>&1 &
    check_pid=$!

    t_restart=$(now)
    if ! start_server; then
        wait "$check_pid"
        round_fail+=("caulk serve did not start again on the database the kill left")
        write_round
        python3 "$CHECK" line "$rd"
        failed=1 bad=$((bad + 1))
        break
    fi
    wait "$check_pid"
    write_round
    python3 "$CHECK" after-restart "$rd" >"$rd/after-restart.out" 2>&1

    if rec_id=$(post_repair "$rd/recovery"); then
        rec_status=$(wait_run "$rec_id")
        if [[ $rec_status != succeeded ]]; then
            # Allowed once: a repair that found nothing it could repair and changed nothing (right
            # after a kill, calico-node readiness may still lag a datapath the killed run had
            # already fixed: "nothing calico-recover can repair; the cluster is degraded"). The
            # cluster must then pass verify, and another repair must succeed.
            why=$(python3 - "$db" "$rec_id" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
summary, = db.execute("SELECT summary FROM runs WHERE id = ?", (int(sys.argv[2]),)).fetchone()
steps, = db.execute("SELECT count(*) FROM repair_steps WHERE run_id = ?", (int(sys.argv[2]),)).fetchone()
msg = (json.loads(summary or "{}") or {}).get("message", "")
print(("nothing-to-do " if steps == 0 and msg.startswith("nothing ") else "other ") + msg)
EOF
)
            if [[ $rec_status == failed && $why == nothing-to-do* ]] && "$LAB" verify "$CLUSTER" --wait 20 >"$rd/verify-between.log" 2>&1 \
                && rec2=$(post_repair "$rd/recovery2") && [[ $(wait_run "$rec2") == succeeded ]]; then
                rec_status="failed*+succeeded"
                printf '%s\n' "run $rec_id: ${why#nothing-to-do }; run $rec2 then succeeded" >"$rd/recovery.note"
            else
                round_fail+=("the repair after the restart (run $rec_id) ended $rec_status: ${why#* }")
            fi
        fi
    else
        rec_id="" rec_status=refused
        round_fail+=("the new server refused a repair of $CLUSTER: $(tr '\n' ' ' <"$rd/recovery.err")")
    fi
    off_end=$(size)
    # this round's slice of the kube API audit trail, kept with the round (the lab's goes with `down`)
    tail -c +$((off_start + 1)) "$kube_audit" | head -c $((off_end - off_start)) >"$rd/kube-trail.jsonl"
    write_round
    # the evidence check reads only what is written by now: it runs beside the lab's verify
    python3 "$CHECK" evidence "$rd" >"$rd/evidence.out" 2>&1 &
    check_pid=$!
    if ! "$LAB" verify "$CLUSTER" --wait 20 >"$rd/verify.log" 2>&1; then
        round_fail+=("caulk-lab verify $CLUSTER failed after the repair (see $rd/verify.log)")
        heal || round_fail+=("the cluster did not come back even after caulk-lab clear")
    fi
    wait "$check_pid"
    write_round
    if python3 "$CHECK" line "$rd"; then
        if grep -q '"late": true' "$rd/at-kill.json" 2>/dev/null; then late=$((late + 1)); else ok=$((ok + 1)); fi
    else
        failed=1 bad=$((bad + 1))
        for f in at-kill after-restart evidence; do grep -q Traceback "$rd/$f.out" 2>/dev/null && sed 's/^/    /' "$rd/$f.out"; done
    fi
done

stop_server
wall=$((SECONDS - T0))
python3 "$CHECK" summary "$work/rounds"
say "$ROUNDS rounds: $ok ok, $late late (the repair had ended before the kill), $bad failed; wall time ${wall}s ($((wall / 60))m$((wall % 60))s)"
exit $((bad > 0 ? 1 : 0))
