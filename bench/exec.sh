#!/usr/bin/env bash
# `caulk exec` vs parallel-ssh vs Ansible on the same 200 lab nodes (one cluster), concurrency 50,
# the same 8 read-only diagnostics. Brings the lab up and down itself; needs root.
#
#   bench/exec.sh [CONFIG]      CONFIG = release (default) or debug; builds first
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-release}
command -v parallel-ssh >/dev/null || apt-get install -y -qq pssh
command -v ansible >/dev/null || pip install -q ansible-core
# The service keeps SSH connections this long; a round of the others takes longer, so each round's
# first caulk run connects afresh (see exec_bench.py).
export CAULK_SSH_KEEP_SECONDS=30
. bench/lab-server.sh
python3 - "$work" <<'PY'
import sys, re
work = sys.argv[1]
text = open(f"{work}/inventory.yaml").read()
hosts = re.findall(r"address: (\S+)", text)
open(f"{work}/hosts.txt", "w").write("".join(h + "\n" for h in hosts))
open(f"{work}/ansible.ini", "w").write("[bench]\n" + "".join(h + "\n" for h in hosts))
PY

python3 bench/exec_bench.py "$BIN" "$url" "$token" "$server" bench1 "$work"
