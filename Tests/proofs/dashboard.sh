#!/usr/bin/env bash
# Proof: the dashboard (/ui) works in a real browser. A history is generated into a fresh
# database (bench/history.py: clusters, reboots, audits, findings, repairs), `caulk serve` runs on
# it on 127.0.0.1, and headless Chromium signs in with a viewer token through the sign-in form,
# then checks the page (every cluster shown, four charts with bars, the cookie HttpOnly, no
# console error) and saves a screenshot.
#
#   Tests/proofs/dashboard.sh     # uses .build/debug/caulk; BIN=... for another
#
# The screenshot goes to $SCREENSHOT (default .build/proofs/dashboard.png). Needs python3 and
# chromium-headless-shell (make test-deps installs both).
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/debug/caulk}
SCREENSHOT=${SCREENSHOT:-.build/proofs/dashboard.png}
[[ -x $BIN ]] || { echo "dashboard.sh: no caulk binary at $BIN; build it first or set BIN" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
mkdir -p "$(dirname "$SCREENSHOT")"

work=$(mktemp -d "${TMPDIR:-/tmp}/caulk-dashboard.XXXXXX")
pid=
cleanup() {
    [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'dashboard.sh: %s\n' "$*"; }

python3 bench/history.py --database "$work/caulk.db" --nodes 150 --days 120 --caulk "$BIN" >"$work/history.log" 2>&1 \
    || { cat "$work/history.log" >&2; say "could not generate the history"; exit 1; }
token=$(env -i PATH="$PATH" HOME="$work" "$BIN" tokens create dashboard-proof --role viewer --local --database "$work/caulk.db" -o json \
    | sed -n 's/.*"secret" *: *"\([^"]*\)".*/\1/p')
[[ -n $token ]] || { say "could not create a viewer token"; exit 1; }
mapfile -t clusters < <(python3 -c 'import sqlite3, sys; [print(n) for (n,) in sqlite3.connect(sys.argv[1]).execute("SELECT name FROM clusters ORDER BY name")]' "$work/caulk.db")

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
: >"$work/empty.yaml"
env -i PATH="$PATH" HOME="$work" LOG_LEVEL=warning "$BIN" serve --config "$work/empty.yaml" --listen "127.0.0.1:$port" \
    --database "$work/caulk.db" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl --silent --fail --max-time 2 "http://127.0.0.1:$port/readyz" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; say "caulk serve stopped at start"; exit 1; }
    sleep 0.1
done
say "caulk serve at http://127.0.0.1:$port on a generated history of ${#clusters[@]} clusters"
python3 Tests/proofs/dashboard_browser.py "http://127.0.0.1:$port" "$token" "$SCREENSHOT" "${clusters[@]}"
