# Shared by the cleartokens benchmark scripts (sourced). Needs ADMIN (an admin PostgreSQL URL) and PY
# (the venv's python) set by the caller.
url_for() { echo "${ADMIN%/*}/$1"; }
psql_admin() { psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# seed_template NAME UNITS NOW: a database migrated by Django (DOT 3.4.1) and seeded by
# harness/reference/seed.py with UNITS token units around NOW, vacuumed and analysed.
seed_template() {
    local name="$1" units="$2" now="$3"
    echo "== seeding $units units into $name (now = $now)" >&2
    psql_admin "DROP DATABASE IF EXISTS $name WITH (FORCE)"
    psql_admin "CREATE DATABASE $name"
    DATABASE_URL="$(url_for "$name")" "$PY" harness/reference/manage.py migrate --verbosity 0
    DATABASE_URL="$(url_for "$name")" "$PY" harness/reference/seed.py --count "$units" --seed 42 --now "$now" >/dev/null
    psql "$(url_for "$name")" -qc "VACUUM ANALYZE" >/dev/null
}
