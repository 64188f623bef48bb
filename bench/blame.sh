#!/usr/bin/env bash
# Probe blame when the whole overlay is down, the case caulk exists for: SIZES nodes (default
# 3000,1000,300), each probing 8 peers, every probe failed. Prints the time `findings` takes.
# Run by hand: bench/blame.sh  (SIZES=3000 CONFIG=debug|release; release rebuilds the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
CONFIG=${CONFIG:-debug}
flags=()
[ "$CONFIG" = release ] && flags=(-Xswiftc -enable-testing)
swift build --build-tests -c "$CONFIG" "${flags[@]}" >/dev/null 2>&1
CAULK_BENCH_BLAME=${SIZES:-3000,1000,300} swift test --skip-build -c "$CONFIG" "${flags[@]}" \
    --filter "ProbeBlameTests/benchmarkAllFailedCluster" 2>/dev/null | grep -E "^blame:|✘" || true
