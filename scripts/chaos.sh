#!/usr/bin/env bash
# The chaos and security suite: attacks running oauthq workers and beats on this machine and prints a table of
# figures (harness/chaos/: the scenarios, driven through the real Celery 5.7 client and psycopg from .venv/).
#
#   scripts/chaos.sh [--small] [--fuzz-seconds N] [--keep] [SCENARIO ...]
#
# Scenarios (default: all, in this order): killstorm redis postgres poison pill pause warm beat security sentinel tls.
#   pill: oauthq.crash among ordinary tasks kills 3 workers, then is dead-lettered (WorkerLost); pause: a worker
#   SIGSTOPped 8 s in the middle of cleartokens while another is up (harness/chaos/hardening.py); sentinel and tls:
#   managed Redis (harness/chaos/managed_redis.py).
#   --small          the size scripts/test.sh runs (about 3 minutes); default: the full size of issue 7
#                    (about 30 minutes, including 10 minutes of scripts/fuzz-envelope.sh)
#   --fuzz-seconds N run the envelope fuzzer for N seconds in `poison` (full: 600, small: 0)
#   --keep           keep the run directory (every log, and secrets.txt: the secrets the suite generated)
#
# Everything runs against private servers: a redis-server per scenario on a free 127.0.0.1 port (with an AOF
# where the scenario restarts it) and, for `postgres`, a private PostgreSQL cluster under /var/tmp (initdb/pg_ctl
# as the postgres user). Only `security` uses the shared cluster (a temporary database, and the password role).
# Every server, worker and beat the suite starts is stopped on exit, failure or Ctrl-C. The binary is
# .build/debug/oauthq (built here when missing) unless OAUTHQ_BIN is set.
# Exit status: 0 when every scenario passed; the last line reads "N passed, M failed".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

command -v redis-server >/dev/null || { echo "chaos.sh: redis-server is missing (scripts/services.sh up installs it)" >&2; exit 1; }
scripts/python-env.sh >/dev/null
eval "$(scripts/services.sh env)"
export DATABASE_URL OAUTHQ_PASSWORD_DATABASE_URL
if [ -z "${OAUTHQ_BIN:-}" ]; then
    [ -x .build/debug/oauthq ] || swift build --product oauthq
    export OAUTHQ_BIN="$ROOT/.build/debug/oauthq"
fi

# The harness stops what it started on exit, SIGINT or SIGTERM; forward our signals to it (by its pid).
.venv/bin/python harness/chaos/chaos.py "$@" &
harness=$!
trap 'kill -TERM "$harness" 2>/dev/null || true' INT TERM
status=0
wait "$harness" || status=$?
if kill -0 "$harness" 2>/dev/null; then   # interrupted: wait for the harness to finish its cleanup
    wait "$harness" || status=$?
fi
exit "$status"
