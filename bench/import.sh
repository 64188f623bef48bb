#!/usr/bin/env bash
# Inventory import timings: a 10-cluster, 200-node fleet as caulk YAML and as Ansible INI, into a
# fresh database, then re-imported (a no-op). Prints the median wall time of RUNS runs of each.
#
#   bench/import.sh [CONFIG]     CONFIG = debug (default) or release; builds first
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-debug}
RUNS=${RUNS:-5}
swift build -c "$CONFIG" --product caulk >/dev/null
BIN=.build/$CONFIG/caulk
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT

python3 bench/fleet.py caulk 10 20 > "$work/fleet.yaml"
python3 bench/fleet.py ansible 10 20 > "$work/fleet.ini"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

start_server() {
    rm -f "$work"/caulk.db*
    (cd "$work" && exec "$OLDPWD/$BIN" serve --listen 127.0.0.1:0 --database "$work/caulk.db" \
        --bootstrap-token-file "$work/token" > "$work/serve.out" 2>&1) &
    server=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    export CAULK_URL=$(sed -n 's/^caulk: listening on \([^ ]*\).*/\1/p' "$work/serve.out")
    export CAULK_TOKEN=$(cat "$work/token")
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }

for file in fleet.yaml fleet.ini; do
    first=(); again=()
    for _ in $(seq "$RUNS"); do
        start_server
        t0=$(now); "$BIN" inventory import "$work/$file" >/dev/null; t1=$(now)
        "$BIN" inventory import "$work/$file" | grep -q "no changes"; t2=$(now)
        first+=("$(awk "BEGIN {print $t1 - $t0}")"); again+=("$(awk "BEGIN {print $t2 - $t1}")")
        stop_server
    done
    printf '%-11s 200 nodes / 10 clusters (%s build): first import %.3f s, re-import (no-op) %.3f s  [median of %d, CLI wall time incl. process start]\n' \
        "$file" "$CONFIG" "$(printf '%s\n' "${first[@]}" | median)" "$(printf '%s\n' "${again[@]}" | median)" "$RUNS"
done
