#!/bin/sh
# Integration test of the caulk test fleet. Needs root and lab/packages.txt installed.
# Fails loudly (never skips) when network namespaces cannot be made.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "FAIL lab tests need root (network namespaces, bridges, mounts)"; echo "0 passed, 1 failed"; exit 1
fi
for t in ip bridge nft ethtool sshd ssh ssh-keygen nsenter unshare kubectl openssl python3; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "FAIL missing tool: $t (install lab/packages.txt)"; echo "0 passed, 1 failed"; exit 1; }
done
exec python3 "$here/test_lab.py"
