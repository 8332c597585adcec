#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, starts Redis and PostgreSQL on
# loopback (scripts/services.sh), then runs `swift test` against them, then the chaos and security
# suite at its small size (`scripts/chaos.sh --small`, about 3 minutes). Extra arguments go to
# `swift test` (e.g. `scripts/test.sh --filter RedisTests`) and skip the chaos suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

command -v swift >/dev/null || { echo "test.sh: error: no Swift toolchain on PATH (Swift 6.2 or later is needed)" >&2; exit 1; }

# Build-time C libraries (the services script installs the servers).
scripts/apt-install.sh libhiredis-dev libpq-dev libssl-dev pkg-config
# The openssl CLI makes the CA and certificates of the TLS tests at test time.
scripts/apt-install.sh openssl

# The real other side for the differential and interop tests: DOT 3.4.1 / Django 5.2 / Celery 5.7
# in a git-ignored venv (.venv/), pinned by requirements-dev.txt.
scripts/python-env.sh

eval "$(scripts/services.sh up)"
export REDIS_URL DATABASE_URL OAUTHQ_PASSWORD_DATABASE_URL

swift build --build-tests
# One test at a time: run in parallel on 2 cores, the suites that start workers, Celery, Flower, DOT and
# PostgreSQL clones starve each other (load ≈ 20) and bounded waits fail at random. Each test still runs
# its own concurrent parts.
swift test --no-parallel "$@"
if [ $# -eq 0 ]; then
    scripts/chaos.sh --small
fi
