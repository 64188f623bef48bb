#!/usr/bin/env bash
# How fast caulk answers its reports over a big history: serves a database made by
# bench/history.py and times GET /v1/reports/{name} for each report, several group_by values and
# two ranges (REPEAT requests each: median and max), then GET /ui and GET /metrics. A group a report does not take
# (400), or a report this binary does not have (404), is printed as skipped, not timed.
#
#   bench/reports.sh                      # 5000 nodes, 730 days in /tmp/caulk-history-bench/caulk.db
#   DB=/tmp/small.db NODES=200 DAYS=60 bench/reports.sh
#   BIN=.build/release/caulk bench/reports.sh   # a release build (swift build -c release) times better
#
# DB      database; made with bench/history.py (NODES, DAYS, SEED) when the file does not exist.
#         Default /tmp/caulk-history-bench/caulk.db, reused when it is there.
# BIN     caulk binary (default .build/debug/caulk); it serves the file as it is, with retention off.
# REPEAT  requests per report, group and range (default 5).
# GROUP_BY group_by values to try (default: cluster week calico-version kernel nic-driver os check
#         playbook trigger); RANGES: since values (default: 30d 730d).
# MAX_TIME seconds one request may take before it counts as timed out (default 600).
# SHOW    report:group:since to print in full at the end (default post-reboot:calico-version:730d;
#         empty for none).
# Only 127.0.0.1 is used. The server is started here and stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${DB:-/tmp/caulk-history-bench/caulk.db}
BIN=${BIN:-.build/debug/caulk}
REPEAT=${REPEAT:-5}
MAX_TIME=${MAX_TIME:-600}
GROUP_BY=${GROUP_BY:-cluster week calico-version kernel nic-driver os check playbook trigger}
RANGES=${RANGES:-30d 730d}
REPORTS=${REPORTS:-reboots post-reboot findings mttr repairs risk}
SHOW=${SHOW-post-reboot:calico-version:730d}
NODES=${NODES:-5000}
DAYS=${DAYS:-730}
SEED=${SEED:-1}

[ -x "$BIN" ] || { echo "reports.sh: no caulk binary at $BIN (set BIN)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
DB=$(python3 -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "$DB")

if [ ! -s "$DB" ]; then
    echo "== no database at $DB: making one (--nodes $NODES --days $DAYS --seed $SEED)"
    python3 bench/history.py --database "$DB" --nodes "$NODES" --days "$DAYS" --seed "$SEED" --caulk "$BIN"
    echo
fi

work=$(mktemp -d /tmp/caulk-reports.XXXXXX)
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A token: the one history.py kept, else a viewer token written into the file now (caulk writes
# the bootstrap token only for a database without tokens).
token=
if [ -s "$DB.admin-token" ]; then
    token=$(cat "$DB.admin-token")
elif [ "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tokens").fetchone()[0])' "$DB" 2>/dev/null || echo 0)" != 0 ]; then
    name="bench-reports-$(date +%s)"
    token=$("$BIN" tokens create "$name" --role viewer --local --database "$DB" -o json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
    echo "== created viewer token $name in $DB"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url=http://127.0.0.1:$port
size=$(du -sh "$DB" | cut -f1)
echo "== $BIN serve on $url, database $DB ($size)"
case $BIN in
    */debug/*) echo "   (a debug build: expect slower answers than from a release build)" ;;
esac
(
    cd "$work"
    export CAULK_RETENTION_OUTPUT_DAYS=0 CAULK_RETENTION_FACTS_DAYS=0 CAULK_RETENTION_FINDINGS_DAYS=0 \
        CAULK_RETENTION_RUNS_DAYS=0 CAULK_RETENTION_EVENTS_DAYS=0
    exec "$BIN" serve --database "$DB" --listen "127.0.0.1:$port" --bootstrap-token-file "$work/token" > "$work/serve.log" 2>&1
) &
server=$!
started=$(date +%s)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" 2>/dev/null)" = 200 ]; do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "reports.sh: caulk serve exited:" >&2
        cat "$work/serve.log" >&2
        server=
        exit 1
    fi
    if [ $(( $(date +%s) - started )) -gt 1800 ]; then
        echo "reports.sh: caulk serve did not answer /healthz in 30 minutes" >&2
        exit 1
    fi
    sleep 0.2
done
echo "   answering after $(( $(date +%s) - started )) s (migrations, if any, included); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "report history|incremental vacuum" "$work/serve.log" | sed 's/^/   serve: /' || true
[ -s "$work/token" ] && token=$(cat "$work/token")
[ -n "$token" ] || { echo "reports.sh: no token for $DB" >&2; exit 1; }

# One request: prints "STATUS SECONDS"; the body goes to $work/body.
request() {
    curl -s -m "$MAX_TIME" -o "$work/body" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" "$1" || true
}

# Median and max, in ms, of the seconds in $work/times.
stats() {
    python3 -c '
import statistics, sys
values = sorted(float(line) * 1000 for line in open(sys.argv[1]) if line.strip())
print(f"{statistics.median(values):.1f} {values[-1]:.1f}")' "$work/times"
}

# REPEAT requests of one URL: prints "MEDIAN MAX STATUS" (ms, ms, the last request's status).
repeated() {
    local status seconds
    : > "$work/times"
    for _ in $(seq "$REPEAT"); do
        read -r status seconds < <(request "$1")
        echo "$seconds" >> "$work/times"
    done
    echo "$(stats) $status"
}

rows() {
    python3 -c '
import json, sys
try:
    body = json.load(open(sys.argv[1]))
    print(len(body.get("rows", [])))
except Exception:
    print("-")' "$work/body"
}

why() {
    python3 -c '
import json, sys
try:
    body = json.load(open(sys.argv[1]))
    error = body.get("error", body)
    print((error.get("message") if isinstance(error, dict) else str(error))[:90])
except Exception:
    print(open(sys.argv[1], errors="replace").read().strip().replace("\n", " ")[:90])' "$work/body"
}

printf '\n%-12s %-15s %-6s %-7s %10s %10s %6s\n' report group_by since status median_ms max_ms rows
printf '%-12s %-15s %-6s %-7s %10s %10s %6s\n' ------------ --------------- ------ ------- ---------- ---------- ------
timed=0
skipped=0
for report in $REPORTS; do
    for group in $GROUP_BY; do
        for since in $RANGES; do
            target="$url/v1/reports/$report?group_by=$group&since=$since"
            read -r status seconds < <(request "$target")
            case $status in
                200) ;;
                404)
                    printf '%-12s %-15s %-6s %-7s %s\n' "$report" "-" "-" 404 "skipped: no such report in this caulk"
                    skipped=$((skipped + 1))
                    continue 3 ;;
                400)
                    printf '%-12s %-15s %-6s %-7s %s\n' "$report" "$group" "-" 400 "skipped: $(why)"
                    skipped=$((skipped + 1))
                    continue 2 ;;
                000)
                    printf '%-12s %-15s %-6s %-7s %s\n' "$report" "$group" "$since" "-" "no answer within $MAX_TIME s (MAX_TIME)"
                    continue ;;
                *)
                    printf '%-12s %-15s %-6s %-7s %s\n' "$report" "$group" "$since" "$status" "failed: $(why)"
                    continue ;;
            esac
            count=$(rows)
            read -r median max status < <(repeated "$target")
            printf '%-12s %-15s %-6s %-7s %10s %10s %6s\n' "$report" "$group" "$since" "$status" "$median" "$max" "$count"
            timed=$((timed + 1))
        done
    done
done

for path in /ui /metrics; do
    read -r status seconds < <(request "$url$path")
    if [ "$status" = 200 ]; then
        read -r median max status < <(repeated "$url$path")
        printf '%-12s %-15s %-6s %-7s %10s %10s %6s\n' "GET $path" "-" "-" "$status" "$median" "$max" "$(wc -c < "$work/body")B"
        timed=$((timed + 1))
    else
        printf '%-12s %-15s %-6s %-7s %s\n' "GET $path" "-" "-" "$status" "not timed"
    fi
done
echo
echo "$timed timed, $skipped skipped; $REPEAT request(s) each after one untimed; $(( $(date +%s) - started )) s in all;" \
    "load average now $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the times)"
grep -E 'VmHWM' "/proc/$server/status" 2>/dev/null | tr -s ' \t' ' ' | sed 's/^/server peak RSS:/' || true

for spec in $SHOW; do
    IFS=: read -r report group since <<< "$spec"
    read -r status _ < <(request "$url/v1/reports/$report?group_by=$group&since=$since")
    echo
    echo "== $report by $group since $since ($status)"
    python3 -c '
import json, sys
body = json.load(open(sys.argv[1]))
if "rows" not in body:
    print(body); sys.exit()
columns, rows = body["columns"], body["rows"]
cells = [columns] + [["" if cell is None else str(cell) for cell in row] for row in rows]
widths = [min(60, max(len(row[i]) for row in cells)) for i in range(len(columns))]
for row in cells:
    print("  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths)).rstrip())' "$work/body"
done
