#!/usr/bin/env bash
# A `caulk audit` of 200 lab nodes (one cluster) against one `caulk exec` of the same node
# commands, both at concurrency 50. The audit also runs kubectl on a control-plane node first
# and a TCP/ICMP probe to 8 peers from each node. Brings the lab up and down itself; needs root.
#
#   bench/audit.sh [CONFIG]     CONFIG = release (default) or debug; builds first
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-release}
. bench/lab-server.sh
python3 bench/audit_bench.py "$BIN" "$url" "$token" "$server" bench1
