# Sourced by the fleet benchmarks: builds caulk, brings up a lab (by default one cluster `bench1`
# of $NODES nodes; LAB_UP and LAB_CLUSTERS say otherwise), starts `caulk serve` on it and imports
# the inventory. Cleans everything up on exit. Sets BIN, work, url, token, server.
CONFIG=${CONFIG:-release}
NODES=${NODES:-200}
LAB_UP=${LAB_UP:---clusters 1 --nodes $NODES --prefix bench}
LAB_CLUSTERS=${LAB_CLUSTERS:-bench1}
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
# shellcheck disable=SC2086  # LAB_UP is a list of arguments
lab/caulk-lab up $LAB_UP
lab/caulk-lab inventory --format caulk > "$work/inventory.yaml"
lab/caulk-lab inventory --known-hosts > "$work/known_hosts"

(cd "$work" && exec "$BIN" serve --listen 127.0.0.1:0 --database "$work/caulk.db" --bootstrap-token-file "$work/token" > "$work/serve.out" 2>&1) &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^caulk: listening on \([^ ]*\).*/\1/p' "$work/serve.out")
token=$(cat "$work/token")
CAULK_URL=$url CAULK_TOKEN=$token "$BIN" inventory import "$work/inventory.yaml"
for cluster in $LAB_CLUSTERS; do
    lab/caulk-lab verify "$cluster" --wait 60 >/dev/null || echo "note: lab verify of $cluster did not pass"
done
