#!/usr/bin/env bash
# Benchmark: `oauthq cleartokens --jobs N` for N = 1, 2, 4, and the cost of progress reporting
# (--jobs 1 with and without --no-progress), on one seeded database cloned for each run, in one run.
# Not part of the test suite.
#
#   scripts/bench-cleartokens-jobs.sh [UNITS] [ROUNDS]   (default 1000000 units: harness/reference/seed.py;
#                                                         ROUNDS rounds of all five runs, default 1)
#
# Settings: REFRESH_TOKEN_EXPIRE_SECONDS=86400, batch size 10000, one frozen `now`; every run must end
# with the same rows (checked). Each run's stderr is a file, so progress is in its periodic-line mode.
# Prints a Markdown table: seconds per round, speed-up over --jobs 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UNITS="${1:-1000000}"
ROUNDS="${2:-1}"
EXPIRE=86400
BATCH=10000

source scripts/bench/lib.sh
bench_env
bench_build   # OAUTHQ=path/to/oauthq skips the release build

TPL=bench_jobs_tpl
seed_template $TPL "$UNITS" "$NOW"

RUNS=(j1 j2 j4 j1_noprogress)
declare -A ARGS=([j1]="--jobs 1" [j2]="--jobs 2" [j4]="--jobs 4" [j1_noprogress]="--jobs 1 --no-progress")
declare -A SECS
export REFRESH_TOKEN_EXPIRE_SECONDS=$EXPIRE CLEAR_EXPIRED_TOKENS_BATCH_SIZE=$BATCH
for round in $(seq 1 "$ROUNDS"); do
    for run in "${RUNS[@]}"; do
        db="bench_jobs_$run"
        psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"
        psql_admin "CREATE DATABASE $db TEMPLATE $TPL"
        echo "== round $round: $run" >&2
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$OAUTHQ" cleartokens --database-url "$(url_for $db)" --now "$NOW" ${ARGS[$run]} >/dev/null 2>"/tmp/bench-jobs-$run.err"
        end=$(date +%s.%N)
        SECS[$run.$round]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
        grep -h "^step" "/tmp/bench-jobs-$run.err" | sed 's/^/   /' >&2 || true
        echo "   ${SECS[$run.$round]} s" >&2
        [ "$run" = j1 ] && REF="$(fingerprint $db)"
        [ "$(fingerprint $db)" = "$REF" ] || { echo "bench: $run does not end with --jobs 1's rows" >&2; exit 1; }
        psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    done
done

echo
echo "cleartokens --jobs, $UNITS units, EXPIRE=$EXPIRE, batch $BATCH, $(nproc) cores (database on the same machine)"
echo
header="| run |"; rule="|---|"
for round in $(seq 1 "$ROUNDS"); do header="$header round $round (s) |"; rule="$rule---:|"; done
echo "$header speed-up over --jobs 1 (round 1) |"
echo "$rule---:|"
for run in "${RUNS[@]}"; do
    line="| oauthq cleartokens ${ARGS[$run]} |"
    for round in $(seq 1 "$ROUNDS"); do line="$line ${SECS[$run.$round]} |"; done
    echo "$line $(awk -v a="${SECS[j1.1]}" -v b="${SECS[$run.1]}" 'BEGIN { printf "%.2f", a / b }')× |"
done
psql_admin "DROP DATABASE IF EXISTS $TPL WITH (FORCE)"
