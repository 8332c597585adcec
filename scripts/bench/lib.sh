# Shared by the cleartokens benchmark scripts (sourced from the repository root, after `set -euo pipefail`
# and ROOT set to that root): setup, helpers and the fingerprint every run must match.

# bench_env: the venv and the local services (exports DATABASE_URL); sets PY (the venv's python), NOW (one
# frozen instant) and ADMIN.
bench_env() {
    scripts/python-env.sh
    eval "$(scripts/services.sh up)"
    PY="$ROOT/.venv/bin/python"
    NOW="$(date -u +%Y-%m-%dT%H:%M:%S.123456+00:00)"
    ADMIN="$DATABASE_URL"
}

# bench_build: sets OAUTHQ to a release build with the Swift runtime linked statically: fewer shared-library
# pages, so a smaller RSS (measured: 24 MiB against 29 MiB dynamically linked) and a faster start.
# OAUTHQ=path/to/oauthq set by the caller skips the build (e.g. a debug build for a quick indication).
bench_build() {
    if [ -z "${OAUTHQ:-}" ]; then
        swift build -c release --product oauthq --static-swift-stdlib --scratch-path .build-static 2>&1 | tail -1
        OAUTHQ="$ROOT/.build-static/release/oauthq"
    fi
}

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

# fingerprint DB: one md5 over the ids (and links) of every token and grant left in DB.
fingerprint() {
    psql "$(url_for "$1")" -qAt -c "SELECT md5(string_agg(t, '|')) FROM (
      SELECT (SELECT md5(coalesce(string_agg(id || ':' || coalesce(source_refresh_token_id::text, '') || ':' ||
              coalesce(id_token_id::text, ''), ',' ORDER BY id), '')) FROM oauth2_provider_accesstoken) AS t
      UNION ALL SELECT (SELECT md5(coalesce(string_agg(id || ':' || coalesce(access_token_id::text, ''), ',' ORDER BY id), ''))
              FROM oauth2_provider_refreshtoken)
      UNION ALL SELECT (SELECT md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM oauth2_provider_idtoken)
      UNION ALL SELECT (SELECT md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) FROM oauth2_provider_grant)) s"
}
