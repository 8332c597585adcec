#!/usr/bin/env bash
# Create or update the git-ignored Python venv at .venv/ from requirements-dev.txt.
# Idempotent: when .venv/.requirements.sha256 matches the requirements file it returns at once.
# Usage: scripts/python-env.sh            (then: .venv/bin/python ...)
# Env:   PYTHON (default python3) picks the interpreter for a new venv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/requirements-dev.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

want="$( (cat "$requirements"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
    echo "python-env: installing python3-venv" >&2
    if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$requirements"
echo "$want" >"$stamp"
echo "python-env: $venv ready" >&2
