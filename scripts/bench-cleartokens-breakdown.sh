#!/usr/bin/env bash
# Where the time of a first clean-up goes (not part of the test suite): oauthq's walk as a plpgsql
# procedure (scripts/bench/cleartokens_walk.sql) on three clones of one seeded database —
#   1. as is;
#   2. without the deferred foreign-key checks (session_replication_role = replica, superuser only:
#      a measurement, never something oauthq does);
#   3. without those checks and without the SET NULL updates of steps 1-3 (the rest: finding the rows
#      and deleting them).
# Measured as the backend's CPU time. The differences are the cost of the foreign-key checks and of the SET NULL updates, which every
# correct implementation (DOT, the SQL floor, oauthq) pays whatever index finds the rows.
#
#   scripts/bench-cleartokens-breakdown.sh [UNITS]     (default 200000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UNITS="${1:-200000}"
source scripts/bench/lib.sh
bench_env
TPL=bench_bd_tpl
seed_template $TPL "$UNITS" "$NOW"
declare -A SECS
for variant in full no_fk_checks no_fk_checks_no_set_null; do
    db="bench_bd_$variant"
    psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    psql_admin "CREATE DATABASE $db TEMPLATE $TPL"
    psql "$(url_for $db)" -qc "\i scripts/bench/cleartokens_walk.sql" >/dev/null
    role=origin; unlink=true
    case $variant in
    no_fk_checks) role=replica ;;
    no_fk_checks_no_set_null) role=replica; unlink=false ;;
    esac
    # The backend's own CPU time (from /proc/self/stat, read by the backend itself), which a busy
    # machine disturbs far less than wall time.
    SECS[$variant]=$(psql "$(url_for $db)" -qAt -v ON_ERROR_STOP=1 <<SQL
SET session_replication_role = $role;
SELECT split_part(pg_read_file('/proc/self/stat'), ' ', 14)::bigint
     + split_part(pg_read_file('/proc/self/stat'), ' ', 15)::bigint AS t0 \\gset
CALL oauthq_bench_walk('$NOW'::timestamptz, '$NOW'::timestamptz, '$NOW'::timestamptz - interval '86400 seconds',
                       10000, $unlink);
SELECT round((split_part(pg_read_file('/proc/self/stat'), ' ', 14)::bigint
     + split_part(pg_read_file('/proc/self/stat'), ' ', 15)::bigint - :t0) / 100.0, 2);
SQL
)
    echo "   $variant: ${SECS[$variant]} s of backend CPU" >&2
    psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
psql_admin "DROP DATABASE IF EXISTS $TPL WITH (FORCE)"
share() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
full=${SECS[full]}; nofk=${SECS[no_fk_checks]}; rest=${SECS[no_fk_checks_no_set_null]}
echo
echo "Where a first clean-up of $UNITS units goes (oauthq's walk, one run each):"
echo
echo "| part | backend CPU seconds | share |"
echo "|---|---:|---:|"
echo "| deferred foreign-key checks at each COMMIT | $(echo "$full - $nofk" | bc) | $(share "$(echo "$full - $nofk" | bc)" "$full") |"
echo "| Django's SET NULL updates (access tokens minted from deleted refresh tokens) | $(echo "$nofk - $rest" | bc) | $(share "$(echo "$nofk - $rest" | bc)" "$full") |"
echo "| finding the rows and deleting them | $rest | $(share "$rest" "$full") |"
echo "| total | $full | 100% |"
