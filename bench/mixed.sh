#!/usr/bin/env bash
# What a fleet unlike our defaults costs an audit: two lab clusters of $NODES nodes, `mix1` as the
# lab makes them and `mix2` with FQDN Kubernetes names, no VXLAN MAC annotations, a 20,000-rule
# nftables ruleset per node (8 MB of `nft -j` JSON), an operator install and logins through sudo.
# Prints each audit's wall time, its findings at warning or above, and the server's peak RSS.
# Run by hand as root: bench/mixed.sh  (NODES=12 ROUNDS=3 CONFIG=release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-12}
ROUNDS=${ROUNDS:-3}
LAB_UP="--clusters 2 --nodes $NODES --prefix mix --variant mix2:fqdn,no-vxlan-mac,big-ruleset,operator,sudo"
LAB_CLUSTERS="mix1 mix2"
. bench/lab-server.sh
export CAULK_URL=$url CAULK_TOKEN=$token

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
