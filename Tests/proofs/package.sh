#!/usr/bin/env bash
# The package as an operator installs it: `make package` (PACKAGE_CONFIG=debug by default here:
# this checks the layout and the unit, not the optimiser), then
#   - the tarball holds the binary, the unit, the config, completions and man pages;
#   - with PACKAGE_CONFIG=release: the binary needs no Swift runtime library;
#   - the unit passes `systemd-analyze verify`, and its hardening scores as `systemd-analyze
#     security` rates it;
#   - the completions parse, the man pages are mdoc;
#   - the unit's own ExecStart, with its config, started from the unpacked tree: it listens,
#     writes the first admin token (mode 0600) into its state directory, answers with that
#     token, and stops cleanly on SIGTERM.
# Only 127.0.0.1 is used. What it starts it stops by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGE_CONFIG=${PACKAGE_CONFIG:-debug}
work=$(mktemp -d /tmp/caulk-package.XXXXXX)
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package.sh: FAILED: $*" >&2; exit 1; }

make --no-print-directory package PACKAGE_CONFIG="$PACKAGE_CONFIG" > "$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make package"; }
tarball=$(ls -t dist/caulk-*-linux-*.tar.gz | head -1)
echo "package.sh: $tarball ($(du -h "$tarball" | cut -f1))"
tar -tzf "$tarball" > "$work/list"
for path in usr/bin/caulk usr/lib/systemd/system/caulk.service etc/caulk/caulk.yaml etc/caulk/playbooks/ var/lib/caulk/ \
    usr/share/bash-completion/completions/caulk usr/share/zsh/site-functions/_caulk usr/share/fish/vendor_completions.d/caulk.fish \
    usr/share/man/man1/caulk.1 usr/share/man/man1/caulk.serve.1 usr/share/man/man1/caulk.tokens.create.1 usr/share/doc/caulk/README.md \
    usr/share/doc/caulk/contrib/prometheus/caulk-alerts.yml; do
    grep -qx "caulk-[0-9.]*/$path" "$work/list" || fail "$path is not in $tarball"
done
echo "package.sh: $(grep -c '\.1$' "$work/list") man pages, 3 completion scripts, unit, config"
tar -C "$work" -xzf "$tarball"
root=$(echo "$work"/caulk-*)
# A release package runs on a host without a Swift toolchain: it needs no Swift runtime library.
if [ "$PACKAGE_CONFIG" = release ]; then
    swift_libs=$(ldd "$root/usr/bin/caulk" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime' || true)
    [ -z "$swift_libs" ] || fail "the packaged binary needs the Swift runtime: $swift_libs"
    echo "package.sh: binary $(du -h "$root/usr/bin/caulk" | cut -f1), linked against $(ldd "$root/usr/bin/caulk" | grep -oE 'lib(ssh2|sqlite3)[^ ]*' | sort -u | tr '\n' ' ')and libc"
fi

# The unit, as systemd reads it: ExecStart must name a program that exists, so a copy points at
# the unpacked one.
sed "s|/usr/bin/caulk|$root/usr/bin/caulk|" "$root/usr/lib/systemd/system/caulk.service" > "$work/caulk.service"
systemd-analyze verify --man=no "$work/caulk.service" || fail "systemd-analyze verify"
exposure=$(systemd-analyze security --offline=yes "$work/caulk.service" 2>/dev/null | sed -n 's/.*Overall exposure level for caulk.service: \([0-9.]*\).*/\1/p')
echo "package.sh: unit verified; systemd-analyze security: exposure $exposure (0 safest, 10 least)"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 2.5 else 1)' "${exposure:-10}" || fail "the unit's exposure $exposure is above 2.5"

bash -n "$root/usr/share/bash-completion/completions/caulk" || fail "the bash completion does not parse"
head -c 200 "$root/usr/share/man/man1/caulk.1" | grep -q '^\.Dd' || fail "caulk.1 is not mdoc"

# The unit's ExecStart with the unit's working directory and config, moved under the unpacked
# tree; a free port instead of 8420.
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/caulk.service")
[ "$exec_start" = "/usr/bin/caulk serve --config /etc/caulk/caulk.yaml" ] || fail "unexpected ExecStart: $exec_start"
sed -e "s|/var/lib/caulk|$root/var/lib/caulk|g" -e "s|/etc/caulk|$root/etc/caulk|g" "$root/etc/caulk/caulk.yaml" > "$root/etc/caulk/caulk.yaml.local"
mv "$root/etc/caulk/caulk.yaml.local" "$root/etc/caulk/caulk.yaml"
read -r -a argv <<< "${exec_start//\/usr\/bin\/caulk/$root/usr/bin/caulk}"
argv=("${argv[@]//\/etc\/caulk/$root/etc/caulk}")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
( cd "$root/var/lib/caulk" && exec env -i PATH=/usr/bin:/bin CAULK_LISTEN="127.0.0.1:$port" "${argv[@]}" ) > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on http://127.0.0.1:$port" "$work/serve.log" || { cat "$work/serve.log" >&2; fail "the unit's command line did not start"; }
token_file="$root/var/lib/caulk/admin.token"
[ "$(stat -c %a "$token_file")" = 600 ] || fail "the first admin token is not mode 0600"
grep -q "caulk_" "$work/serve.log" && fail "the first admin token was printed although the config names a file for it"
[ -f "$root/var/lib/caulk/caulk.db" ] || fail "no database in the state directory"
whoami=$(env -i PATH=/usr/bin:/bin HOME="$work" CAULK_URL="http://127.0.0.1:$port" CAULK_TOKEN="$(cat "$token_file")" "$root/usr/bin/caulk" whoami)
echo "$whoami" | grep -q admin || fail "whoami with the first token: $whoami"
kill -TERM "$server"
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server" 2>/dev/null && fail "caulk serve did not stop on SIGTERM within 10 s"
wait "$server" && status=0 || status=$?
server=
[ "$status" = 0 ] || { cat "$work/serve.log" >&2; fail "caulk serve exited $status on SIGTERM"; }
echo "package.sh: OK: the unit's command line served from the unpacked tree and stopped cleanly"
