#!/usr/bin/env bash
# Install the given Debian/Ubuntu packages that are not installed yet (apt-get, through sudo unless root).
#   scripts/apt-install.sh libhiredis-dev libpq-dev pkg-config
# Does nothing, and asks apt nothing, when every package is already installed.
set -euo pipefail

missing=()
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || { echo "apt-install: error: no apt-get; install ${missing[*]} by hand" >&2; exit 1; }
echo "apt-install: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
