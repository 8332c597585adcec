#!/usr/bin/env bash
# Benchmark: DOT 3.4.1's `manage.py cleartokens` vs `oauthq cleartokens` vs a hand-written batched SQL
# floor, on one seeded database cloned for each, in one run. Not part of the test suite.
#
#   scripts/bench-cleartokens.sh [UNITS]      (default 1000000 access tokens, each with its mix of
#                                              refresh tokens, ID tokens and grants: harness/reference/seed.py)
#
# Every timed run starts after a CHECKPOINT (untimed). Settings: REFRESH_TOKEN_EXPIRE_SECONDS=86400 (all six steps have work), batch size 10000, one frozen
# `now` shared by every run so all must end with identical tables (checked); the first round also runs
# `oauthq cleartokens --jobs 2` and `--jobs 4` and `--no-progress` (the cost of progress reporting),
# each on its own copy (scripts/bench-cleartokens-jobs.sh repeats just those). Then a second round
# an hour later on the results (the daily/hourly steady state, where few rows are due). Prints two
# Markdown tables: seconds, ratio to the floor, speed-up over DOT, peak RSS of the client process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UNITS="${1:-1000000}"
EXPIRE=86400
BATCH=10000

command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
source scripts/bench/lib.sh
bench_env
bench_build

TPL=bench_ct_tpl
seed_template $TPL "$UNITS" "$NOW"
ROWS="$(psql "$(url_for $TPL)" -qAt -c "SELECT (SELECT count(*) FROM oauth2_provider_accesstoken) || ' access, ' ||
  (SELECT count(*) FROM oauth2_provider_refreshtoken) || ' refresh, ' || (SELECT count(*) FROM oauth2_provider_idtoken)
  || ' ID tokens, ' || (SELECT count(*) FROM oauth2_provider_grant) || ' grants'")"
echo "== seeded: $ROWS" >&2

clone() { psql_admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; psql_admin "CREATE DATABASE $1 TEMPLATE $TPL"; }
for db in bench_ct_dot bench_ct_oauthq bench_ct_floor bench_ct_idx bench_ct_j2 bench_ct_j4 bench_ct_noprog; do clone $db; done
echo "== building the opt-in cleanup indexes on bench_ct_idx (not timed)" >&2
"$OAUTHQ" migrate --cleanup-indexes --database-url "$(url_for bench_ct_idx)" >/dev/null
psql "$(url_for bench_ct_idx)" -qc "ANALYZE" >/dev/null
psql "$(url_for bench_ct_floor)" -qc "\i scripts/bench/cleartokens_floor.sql" >/dev/null

declare -A SECS RSS
run() { # key, command...
    local key="$1"; shift
    local out; out="$(mktemp)"
    echo "== $key" >&2
    # Each run starts from a clean buffer cache state: the previous run's dirty pages are written now, untimed,
    # not by the checkpointer during this run.
    psql_admin "CHECKPOINT"
    /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$out.err" || { cat "$out.err" >&2; exit 1; }
    read -r SECS[$key] RSS[$key] <"$out"
    grep -h "^step" "$out.err" | sed 's/^/   /' >&2 || true
    echo "   ${SECS[$key]} s, peak RSS $((${RSS[$key]} / 1024)) MiB" >&2
}

rows_left() {
    psql "$(url_for "$1")" -qAt -c "SELECT (SELECT count(*) FROM oauth2_provider_accesstoken) +
      (SELECT count(*) FROM oauth2_provider_refreshtoken) + (SELECT count(*) FROM oauth2_provider_idtoken) +
      (SELECT count(*) FROM oauth2_provider_grant)"
}

# One round: the four runs on their own copies with the same `now`; all must end with DOT's rows.
round() { # suffix, now
    local r="$1" now="$2"
    export REFRESH_TOKEN_EXPIRE_SECONDS=$EXPIRE CLEAR_EXPIRED_TOKENS_BATCH_SIZE=$BATCH
    run "dot$r" env DATABASE_URL="$(url_for bench_ct_dot)" "$PY" harness/reference/cleartokens_at.py --now "$now"
    run "oauthq$r" "$OAUTHQ" cleartokens --database-url "$(url_for bench_ct_oauthq)" --now "$now"
    run "floor$r" psql "$(url_for bench_ct_floor)" -qc "CALL oauthq_bench_floor('$now'::timestamptz, '$now'::timestamptz,
        '$now'::timestamptz - interval '$EXPIRE seconds', $BATCH)"
    run "oauthq_idx$r" "$OAUTHQ" cleartokens --database-url "$(url_for bench_ct_idx)" --now "$now"
    local extra=()
    if [ "$r" = _first ]; then
        run "oauthq_j2$r" "$OAUTHQ" cleartokens --database-url "$(url_for bench_ct_j2)" --now "$now" --jobs 2
        run "oauthq_j4$r" "$OAUTHQ" cleartokens --database-url "$(url_for bench_ct_j4)" --now "$now" --jobs 4
        run "oauthq_noprog$r" "$OAUTHQ" cleartokens --database-url "$(url_for bench_ct_noprog)" --now "$now" --no-progress
        extra=(bench_ct_j2 bench_ct_j4 bench_ct_noprog)
    fi
    local ref; ref="$(fingerprint bench_ct_dot)"
    for db in bench_ct_oauthq bench_ct_floor bench_ct_idx "${extra[@]}"; do
        [ "$(fingerprint $db)" = "$ref" ] || { echo "bench: $db does not end with DOT's rows" >&2; exit 1; }
    done
    DELETED[$r]=$(( LEFT_BEFORE - $(rows_left bench_ct_dot) ))
    LEFT_BEFORE=$(rows_left bench_ct_dot)
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
table() { # suffix
    local r="$1"
    echo "| run | seconds | vs SQL floor | speed-up over DOT | peak RSS (client) |"
    echo "|---|---:|---:|---:|---:|"
    local names=(dot floor oauthq oauthq_idx)
    [ "$r" = _first ] && names+=(oauthq_j2 oauthq_j4 oauthq_noprog)
    for name in "${names[@]}"; do
        local label="$name" key="$name$r"
        case $name in
        dot) label="DOT 3.4.1 manage.py cleartokens" ;;
        floor) label="hand-written batched SQL floor" ;;
        oauthq) label="oauthq cleartokens" ;;
        oauthq_idx) label="oauthq cleartokens + cleanup indexes" ;;
        oauthq_j2) label="oauthq cleartokens --jobs 2 ($(ratio "${SECS[oauthq$r]}" "${SECS[$key]}")× --jobs 1)" ;;
        oauthq_j4) label="oauthq cleartokens --jobs 4 ($(ratio "${SECS[oauthq$r]}" "${SECS[$key]}")× --jobs 1)" ;;
        oauthq_noprog) label="oauthq cleartokens --no-progress" ;;
        esac
        echo "| $label | ${SECS[$key]} | $(ratio "${SECS[$key]}" "${SECS[floor$r]}")× | $(ratio "${SECS[dot$r]}" "${SECS[$key]}")× | $((${RSS[$key]} / 1024)) MiB |"
    done
}

declare -A DELETED
LEFT_BEFORE=$(rows_left $TPL)
round "_first" "$NOW"
# The steady state: the next run, an hour later, finds only what became due in that hour.
LATER="$(date -u -d "@$(( $(date -u -d "${NOW%.*}Z" +%s) + 3600 ))" +%Y-%m-%dT%H:%M:%S.123456+00:00)"
for db in bench_ct_oauthq bench_ct_idx bench_ct_dot bench_ct_floor; do psql "$(url_for $db)" -qc "VACUUM ANALYZE" >/dev/null; done
round "_later" "$LATER"

echo
echo "cleartokens, $UNITS units ($ROWS), EXPIRE=$EXPIRE, batch $BATCH"
echo
echo "First run (deletes ${DELETED[_first]} rows; the remaining rows are identical in all runs):"
echo
table "_first"
echo
echo "Next run an hour later (deletes ${DELETED[_later]} rows; identical in all four runs again):"
echo
table "_later"
for db in $TPL bench_ct_dot bench_ct_oauthq bench_ct_floor bench_ct_idx bench_ct_j2 bench_ct_j4 bench_ct_noprog; do psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
