#!/usr/bin/env bash
# Proof: the REST API keeps to its own OpenAPI document (config/openapi.yaml, served at
# /v1/openapi.yaml), as schemathesis sees it with every check on.
#
#   Tests/proofs/schemathesis.sh          # uses .build/debug/caulk; BIN=... for another
#
# It builds nothing. It installs schemathesis into a venv (a temp one, or $CAULK_PROOF_VENV, kept
# for the next run), starts `caulk serve` on fresh temp databases on 127.0.0.1 (a free port each)
# and runs schemathesis against them with an admin token of its own. Exit status: 0 when
# schemathesis found nothing, else 1. Only loopback is ever contacted: no operation that opens an
# SSH connection runs (see the passes below), and the inventory's addresses are in 198.18.0.0/15
# (benchmarking, never routed) all the same; webhooks are made on loopback URLs, and the servers
# hold every delivery (--notify-hold).
#
# Three passes, because some operations lead to SSH, or lock the run out, through what they
# leave behind:
#   main      everything but what connects to nodes or starts runs (exec, trust, audits, repairs,
#             the boot beacon), what would make the service start audits or repairs by itself
#             (adding a schedule, the auto-repair policy) and revoking tokens, on an inventory of
#             one cluster and two nodes;
#   nodeless  schedules and the auto-repair policy, on a second server whose only cluster has no
#             node: a schedule that fires there has nothing to audit, and with no node there is no
#             reboot to repair after;
#   tokens    revoking tokens, on that server, once schemathesis's own token is its only admin
#             token: revoking that one is the 409 the API answers for the last admin, so the run
#             cannot lock itself out (and no operation that makes another admin token runs).
#
# Knobs: MAX_EXAMPLES (per operation and phase, default 100), SEED (default random), WORKERS
# (default 1), SCHEMATHESIS_VERSION.
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/debug/caulk}
SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
WORKERS=${WORKERS:-1}

[[ -x $BIN ]] || { echo "schemathesis.sh: no caulk binary at $BIN; build it first (swift build) or set BIN" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

work=$(mktemp -d "${TMPDIR:-/tmp}/caulk-schemathesis.XXXXXX")
servers=()
cleanup() {
    local pid
    for pid in "${servers[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
say() { printf 'schemathesis.sh: %s\n' "$*"; }

# --- schemathesis -------------------------------------------------------------------------------
venv=${CAULK_PROOF_VENV:-$work/venv}
if [[ ! -x $venv/bin/schemathesis ]] || [[ $("$venv/bin/schemathesis" --version 2>/dev/null) != *"$SCHEMATHESIS_VERSION"* ]]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# schemathesis's token: an admin one, with the same name on every server.
proof_name=schemathesis-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# Where a regular expression cannot say what the server takes, config/openapi.yaml names a
# format; these generate values of those formats (only valid ones: schemathesis drops a format
# when it makes invalid data).
cat >"$work/hooks.py" <<'PY'
import base64, datetime, ipaddress, struct

import schemathesis
from hypothesis import strategies as st


cidr = st.one_of(
    st.just(""),
    st.builds(lambda raw, prefix: str(ipaddress.IPv4Network((raw, prefix), strict=False)), st.integers(0, 2**32 - 1), st.integers(0, 32)),
    st.builds(lambda raw, prefix: str(ipaddress.IPv6Network((raw, prefix), strict=False)), st.integers(0, 2**128 - 1), st.integers(0, 128)),
)


def _field(low, high):
    number = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda pair: f"{min(pair)}-{max(pair)}")
    step = st.integers(1, high).map(lambda n: f"*/{n}")
    return st.one_of(st.just("*"), number, ranged, step, st.lists(number, min_size=1, max_size=3).map(",".join))


# Days of the month up to 28 only: a day that some months lack, in only those months, never fires.
cron = st.one_of(
    st.sampled_from(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"]),
    st.tuples(_field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 7)).map(" ".join),
)


# A report's since/until: how long ago, a date, or an RFC 3339 time.
report_time = st.one_of(
    st.builds(lambda count, unit: f"{count}{unit}", st.integers(0, 9999), st.sampled_from("hdw")),
    st.dates(min_value=datetime.date(1970, 1, 1), max_value=datetime.date(2999, 12, 31)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2999, 12, 31)).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")),
)


def _blob(kind, key):
    name = kind.encode()
    return base64.b64encode(struct.pack(">I", len(name)) + name + struct.pack(">I", len(key)) + key).decode()


public_key = st.builds(lambda key: "ssh-ed25519 " + _blob("ssh-ed25519", key), st.binary(min_size=32, max_size=32))
host_key = st.one_of(
    st.just(""),
    st.binary(min_size=32, max_size=32).map(lambda digest: "SHA256:" + base64.b64encode(digest).decode().rstrip("=")),
    public_key,
    public_key.map(lambda key: "198.18.0.10 " + key),
)

# Webhook URLs on loopback only; and the servers hold every delivery (--notify-hold), so nothing
# is sent to them either.
webhook_url = st.builds(
    lambda scheme, port, path: f"{scheme}://127.0.0.1:{port}/{path}",
    st.sampled_from(["http", "https"]), st.integers(1, 65535), st.from_regex(r"\A[a-z0-9/_-]{0,40}\Z"),
)

schemathesis.openapi.format("cidr", cidr)
schemathesis.openapi.format("webhook-url", webhook_url)
schemathesis.openapi.format("report-time", report_time)
schemathesis.openapi.format("cron", cron)
schemathesis.openapi.format("ssh-host-key", host_key)
PY

# Every check, as `--checks all` would (given on the command line, it would also override the
# one exception below). Half the time a path names the seeded cluster, nodes or tokens, so those
# operations get past their 404s.
# The exception: an inventory file has a grammar of its own, which no JSON Schema can state, so
# schemathesis would send text that is not an inventory and count the 400 against the API.
# Every other check still runs on that operation.
cat >"$work/schemathesis.toml" <<TOML
[checks]
enabled = true

[dictionaries.clusters]
values = ["lab-a"]

[dictionaries.nodes]
values = ["cp1", "w1"]

[dictionaries.tokens]
values = ["$proof_name", "spare"]

[parameters]
"path.name" = { dictionary = "clusters", probability = 0.5 }
"path.cluster" = { dictionary = "clusters", probability = 0.5 }
"path.node" = { dictionary = "nodes", probability = 0.5 }

[[operations]]
include-name = "DELETE /v1/tokens/{name}"
parameters = { "path.name" = { dictionary = "tokens", probability = 0.5 } }

[[operations]]
include-name = "POST /v1/inventory/import"
checks.positive_data_acceptance.enabled = false
TOML

# --- caulk serve --------------------------------------------------------------------------------
# Starts a server on a fresh database and makes schemathesis's token; sets $url, $pid,
# $server_log, $admin (the bootstrap token) and $token. The environment is emptied so no CAULK_*
# setting of the caller's leaks in; the config file is an empty one, so ./config/caulk.yaml is
# not read either.
start_server() {
    local name=$1 log=$work/$1.log
    : >"$work/empty.yaml"
    env -i PATH="$PATH" HOME="$work" LOG_LEVEL=warning \
        "$BIN" serve --config "$work/empty.yaml" --listen 127.0.0.1:0 --notify-hold \
        --database "$work/$name.db" --bootstrap-token-file "$work/$name.token" >"$log" 2>&1 &
    pid=$!
    servers+=("$pid")
    url=
    for _ in $(seq 100); do
        url=$(sed -n 's/^ *export CAULK_URL=//p' "$log" | head -n1)
        [[ -n $url && -s $work/$name.token ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; say "caulk serve ($name) stopped at start"; exit 1; }
        sleep 0.1
    done
    [[ -n $url ]] || { cat "$log" >&2; say "caulk serve ($name) printed no URL within 10 s"; exit 1; }
    [[ $url == http://127.0.0.1:* ]] || { say "refusing a server not on loopback: $url"; exit 1; }
    curl --silent --fail --max-time 5 "$url/readyz" >/dev/null || { cat "$log" >&2; say "$url/readyz failed"; exit 1; }
    admin=$(cat "$work/$name.token")
    server_log=$log
    token=$(cli tokens create "$proof_name" --role admin -o json | sed -n 's/.*"secret" *: *"\([^"]*\)".*/\1/p')
    [[ -n $token ]] || { say "could not create schemathesis's token"; exit 1; }
    say "caulk serve ($name) at $url, pid $pid"
}

# The caulk CLI, against the server last started, with no saved login of the caller's.
cli() { env -i PATH="$PATH" HOME="$work" XDG_CONFIG_HOME="$work/config" CAULK_URL="$url" CAULK_TOKEN="${CLI_TOKEN:-$admin}" "$BIN" "$@"; }

failures=0
# run_pass NAME FILTER-ARGS...: schemathesis against the server last started, as $token.
run_pass() {
    local name=$1
    shift
    say "pass $name: schemathesis run $url/v1/openapi.yaml $*"
    local seed=()
    [[ -n ${SEED:-} ]] && seed=(--seed "$SEED")
    # From the temp dir: schemathesis keeps a cache of failures in ./.schemathesis.
    if (cd "$work" && SCHEMATHESIS_HOOKS="$work/hooks.py" "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" \
        run "$url/v1/openapi.yaml" --url "$url" --header "Authorization: Bearer $token" \
        --max-examples "$MAX_EXAMPLES" --workers "$WORKERS" "${seed[@]}" \
        --generation-database none --request-timeout 10 --no-color "$@"); then
        say "pass $name: passed"
    else
        failures=$((failures + 1))
        say "pass $name: FAILED; the server's log:"
        tail -n 40 "$server_log" | sed 's/^/    /'
    fi
}

start_server main
cli clusters add lab-a --api-endpoint https://198.18.0.10:6443 --pod-cidr 198.19.0.0/16 >/dev/null
cli nodes add lab-a cp1 --address 198.18.0.10 --role control-plane --label zone=a >/dev/null
cli nodes add lab-a w1 --address 198.18.0.11 --role worker --label zone=b >/dev/null
run_pass main \
    --exclude-path-regex '^/v1/clusters/\{name\}/(exec|trust|repair|beacon)$' \
    --exclude-path /v1/audits \
    --exclude-name 'POST /v1/schedules' \
    --exclude-name 'PUT /v1/clusters/{name}/auto-repair' \
    --exclude-name 'DELETE /v1/tokens/{name}'

start_server nodeless
cli clusters add lab-a --api-endpoint https://198.18.0.20:6443 >/dev/null
run_pass nodeless --include-path-regex '^/v1/(schedules(/\{name\})?|clusters/\{name\}/auto-repair|auto-repairs)$'

CLI_TOKEN=$token cli tokens revoke admin >/dev/null
CLI_TOKEN=$token cli tokens create spare --role viewer >/dev/null
run_pass tokens --include-name 'DELETE /v1/tokens/{name}'

elapsed=$((SECONDS - started))
if ((failures > 0)); then
    say "FAILED: $failures of 3 passes found problems (${elapsed}s)"
    exit 1
fi
say "OK: all 3 passes conform to config/openapi.yaml (${elapsed}s)"
