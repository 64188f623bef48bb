#!/usr/bin/env bash
# `caulk exec` vs parallel-ssh vs Ansible on the same 200 lab nodes (one cluster), concurrency 50,
# the same 8 read-only diagnostics. Brings the lab up and down itself; needs root.
#
#   bench/exec.sh [CONFIG]      CONFIG = release (default) or debug; builds first
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-release}
NODES=${NODES:-200}
command -v parallel-ssh >/dev/null || apt-get install -y -qq pssh
command -v ansible >/dev/null || pip install -q ansible-core
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
lab/caulk-lab up --clusters 1 --nodes "$NODES" --prefix bench
lab/caulk-lab inventory --format caulk > "$work/inventory.yaml"
lab/caulk-lab inventory --known-hosts > "$work/known_hosts"
python3 - "$work" <<'PY'
import sys, re
work = sys.argv[1]
text = open(f"{work}/inventory.yaml").read()
hosts = re.findall(r"address: (\S+)", text)
open(f"{work}/hosts.txt", "w").write("".join(h + "\n" for h in hosts))
open(f"{work}/ansible.ini", "w").write("[bench]\n" + "".join(h + "\n" for h in hosts))
PY

(cd "$work" && exec "$BIN" serve --listen 127.0.0.1:0 --database "$work/caulk.db" --bootstrap-token-file "$work/token" > "$work/serve.out" 2>&1) &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^caulk: listening on \([^ ]*\).*/\1/p' "$work/serve.out")
CAULK_URL=$url CAULK_TOKEN=$(cat "$work/token") "$BIN" inventory import "$work/inventory.yaml"
lab/caulk-lab verify bench1 --wait 60 >/dev/null || echo "note: lab verify did not pass; the benchmark only needs ssh"
python3 bench/exec_bench.py "$BIN" "$url" "$(cat "$work/token")" "$server" bench1 "$work"
