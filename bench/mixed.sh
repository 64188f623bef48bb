#!/usr/bin/env bash
# What a fleet unlike our defaults costs an audit: two lab clusters of $NODES nodes, `mix1` as the
# lab makes them and `mix2` with FQDN Kubernetes names, no VXLAN MAC annotations, a 20,000-rule
# nftables ruleset per node (8 MB of `nft -j` JSON), an operator install and logins through sudo.
# Prints each audit's wall time, its findings at warning or above, and the server's peak RSS.
# Run by hand as root: bench/mixed.sh  (NODES=12 ROUNDS=3 CONFIG=release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-release}
NODES=${NODES:-12}
ROUNDS=${ROUNDS:-3}
swift build -c "$CONFIG" --product caulk >/dev/null
BIN=$PWD/.build/$CONFIG/caulk
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    lab/caulk-lab down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

lab/caulk-lab down >/dev/null 2>&1 || true
lab/caulk-lab up --clusters 2 --nodes "$NODES" --prefix mix --variant mix2:fqdn,no-vxlan-mac,big-ruleset,operator,sudo
lab/caulk-lab inventory --format caulk > "$work/inventory.yaml"
(cd "$work" && exec "$BIN" serve --listen 127.0.0.1:0 --database "$work/caulk.db" --bootstrap-token-file "$work/token" > "$work/serve.out" 2>&1) &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
export CAULK_URL=$(sed -n 's/^caulk: listening on \([^ ]*\).*/\1/p' "$work/serve.out") CAULK_TOKEN=$(cat "$work/token")
"$BIN" inventory import "$work/inventory.yaml" >/dev/null
for cluster in mix1 mix2; do lab/caulk-lab verify "$cluster" --wait 60 >/dev/null || echo "note: lab verify of $cluster did not pass"; done

echo "nodes per cluster: $NODES; build: $CONFIG"
for cluster in mix1 mix2; do
    for round in $(seq "$ROUNDS"); do
        start=$(date +%s.%N)
        "$BIN" audit "$cluster" --progress none -o json > "$work/audit.json" || true
        end=$(date +%s.%N)
        serious=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted({f["check"] for r in d for f in (r.get("audit") or {}).get("findings", []) if f["severity"] != "info"}) or "none")' "$work/audit.json" 2>/dev/null || echo "?")
        printf '%s round %d: %.1f s, findings at warning or above: %s\n' "$cluster" "$round" "$(echo "$end - $start" | bc)" "$serious"
    done
done
grep -E 'VmHWM|VmRSS' /proc/$server/status | tr -s ' ' | sed 's/^/server /'
