#!/bin/sh
# Install what caulk-lab needs (Debian 12). kubectl: keep an existing one (the swift image ships the
# google-cloud-cli `kubectl` package, which conflicts with Debian's kubernetes-client on /usr/bin/kubectl).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=""
for p in $(cat "$here/packages.txt"); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
if [ -n "$missing" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
