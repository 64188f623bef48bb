#!/usr/bin/env bash
# A whole fleet at once, for each size in SIZES (total nodes, default "200 1000"), in 8 clusters:
# every cluster's `caulk exec` side by side against parallel-ssh over every node, and
# `caulk audit --all` against one `caulk exec` of the audit's node commands on every cluster (see
# fleet_bench.py). Brings the lab up and down itself for each size; needs root, and the lab free.
#
#   bench/fleet.sh [CONFIG]     CONFIG = release (default) or debug; builds first
#   SIZES="1000" CLUSTERS=8 bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-release}
SIZES=${SIZES:-200 1000}
CLUSTERS=${CLUSTERS:-8}
command -v parallel-ssh >/dev/null || apt-get install -y -qq pssh
# Kept connections expire before the next measurement starts: each one connects afresh.
export CAULK_SSH_KEEP_SECONDS=${CAULK_SSH_KEEP_SECONDS:-5}
for size in $SIZES; do
    per=$(( (size + CLUSTERS - 1) / CLUSTERS ))
    echo "== $(( per * CLUSTERS )) nodes: $CLUSTERS clusters of $per"
    (
        NODES=$per
        LAB_UP="--clusters $CLUSTERS --nodes $per --prefix bench"
        LAB_CLUSTERS=$(seq -f "bench%g" 1 "$CLUSTERS" | tr '\n' ' ')
        . bench/lab-server.sh
        sed -n 's/.*address: \(\S*\).*/\1/p' "$work/inventory.yaml" > "$work/hosts.txt"
        # shellcheck disable=SC2086  # a list of cluster names
        python3 bench/fleet_bench.py "$BIN" "$url" "$token" "$server" "$work" $LAB_CLUSTERS
    )
done
