#!/usr/bin/env bash
# Start, stop or show the local Redis and PostgreSQL that oauthq's tests and quick start use.
#
#   scripts/services.sh up       install (apt) what is missing, start both, wait until they answer
#   scripts/services.sh down     stop both
#   scripts/services.sh status   say whether each answers
#   scripts/services.sh env      print the export lines only
#
# Both listen on 127.0.0.1 only, with their data under $OAUTHQ_DATA_DIR (default: .oauthq-data/ in the
# checkout, git-ignored). Ports: OAUTHQ_REDIS_PORT (6390) and OAUTHQ_PG_PORT (5440), away from the
# defaults so a system Redis or PostgreSQL is left alone. Idempotent: `up` twice starts nothing twice.
# Works as root (PostgreSQL runs as the `postgres` user, since initdb refuses root) and as a normal user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${OAUTHQ_DATA_DIR:-$ROOT/.oauthq-data}"
REDIS_PORT="${OAUTHQ_REDIS_PORT:-6390}"
PG_PORT="${OAUTHQ_PG_PORT:-5440}"
PG_DB="${OAUTHQ_PG_DB:-oauthq}"
REDIS_DIR="$DATA/redis"
PG_DIR="$DATA/pg"
PW_ROLE="oauthq_pw"                  # the one role that must authenticate with a password
PW_PASSWORD="${OAUTHQ_PG_TEST_PASSWORD:-oauthq-test-password}"
PG_SOCK="$DATA/pg-run"   # socket and server log, owned by the server user

log() { echo "services: $*" >&2; }
die() { echo "services: error: $*" >&2; exit 1; }

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    as_root || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$dir" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    echo "$dir/$1"
}

# Run a PostgreSQL server command as the user that owns the cluster.
pg_run() {
    if as_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

redis_url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }
database_url() { echo "postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"; }

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

start_redis() {
    if redis_up; then log "redis already answering on 127.0.0.1:$REDIS_PORT"; return; fi
    mkdir -p "$REDIS_DIR"
    # Always --bind and --pidfile: with only --port, redis-server binds every interface and writes
    # /var/run/redis.pid. AOF on (everysec), as recommended for a broker.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
        --appendonly yes --appendfsync everysec --save "" >/dev/null
    for _ in $(seq 1 100); do redis_up && break; sleep 0.1; done
    redis_up || die "redis-server did not answer on 127.0.0.1:$REDIS_PORT (see $REDIS_DIR/redis.log)"
    log "redis started on 127.0.0.1:$REDIS_PORT"
}

start_postgres() {
    if pg_up; then log "postgres already answering on 127.0.0.1:$PG_PORT"; ensure_database; return; fi
    mkdir -p "$PG_DIR" "$PG_SOCK"
    if as_root; then
        chown postgres:postgres "$PG_DIR" "$PG_SOCK"
        chmod 700 "$PG_DIR"
        if ! runuser -u postgres -- test -w "$PG_DIR"; then
            # A parent folder of the checkout is not searchable by `postgres` (e.g. a clone under
            # /root): keep the cluster in a folder of its own, named after the checkout.
            local alt
            alt="/var/tmp/oauthq-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)"
            log "the postgres user cannot reach $PG_DIR; using $alt"
            PG_DIR="$alt/pg"
            PG_SOCK="$alt/run"
            mkdir -p "$PG_DIR" "$PG_SOCK"
            chown -R postgres:postgres "$alt"
            chmod 700 "$PG_DIR"
            echo "$alt" >"$DATA/pg-location"
        fi
    fi
    if [ ! -f "$PG_DIR/PG_VERSION" ]; then
        pg_run "$(pg_bin initdb)" -D "$PG_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
            --no-sync >"$DATA/initdb.log" 2>&1 || die "initdb failed (see $DATA/initdb.log)"
    fi
    write_hba
    pg_run "$(pg_bin pg_ctl)" -D "$PG_DIR" -l "$PG_SOCK/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK -c fsync=off -c max_connections=200" \
        start >/dev/null || die "postgres did not start (see $PG_SOCK/postgres.log)"
    for _ in $(seq 1 100); do pg_up && break; sleep 0.1; done
    pg_up || die "postgres did not answer on 127.0.0.1:$PG_PORT (see $PG_SOCK/postgres.log)"
    log "postgres started on 127.0.0.1:$PG_PORT"
    ensure_database
}

# Trust on loopback for the superuser and test roles, except one role that must give a password
# (scram-sha-256): the tests use it for real password authentication and wrong-password errors.
write_hba() {
    local hba="$PG_DIR/pg_hba.conf"
    if ! grep -q "$PW_ROLE" "$hba" 2>/dev/null; then
        pg_run sh -c "cat > '$hba'" <<HBA
# written by scripts/services.sh
local   all  all                        trust
host    all  $PW_ROLE  127.0.0.1/32  scram-sha-256
host    all  all       127.0.0.1/32  trust
HBA
    fi
}

ensure_database() {
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
        log "created database $PG_DB"
    fi
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PW_ROLE') THEN
            CREATE ROLE $PW_ROLE LOGIN SUPERUSER PASSWORD '$PW_PASSWORD';
        END IF; END \$\$" >/dev/null
}

stop_all() {
    if [ -f "$DATA/pg-location" ]; then
        PG_DIR="$(cat "$DATA/pg-location")/pg"
    fi
    if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$REDIS_DIR/redis.pid")"
        log "redis stopped"
    fi
    if [ -f "$PG_DIR/postmaster.pid" ]; then
        pg_run "$(pg_bin pg_ctl)" -D "$PG_DIR" -m fast -w stop >/dev/null && log "postgres stopped"
    fi
}

print_env() {
    echo "export REDIS_URL=$(redis_url)"
    echo "export DATABASE_URL=$(database_url)"
    echo "export OAUTHQ_PASSWORD_DATABASE_URL=postgres://$PW_ROLE:$PW_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
}

case "${1:-}" in
up)
    apt_install redis-server redis-tools postgresql postgresql-client
    mkdir -p "$DATA"
    start_redis
    start_postgres
    print_env
    ;;
down) stop_all ;;
status)
    if redis_up; then echo "redis: up ($(redis_url))"; else echo "redis: down"; fi
    if pg_up; then echo "postgres: up ($(database_url))"; else echo "postgres: down"; fi
    ;;
env) print_env ;;
*)
    echo "usage: scripts/services.sh up|down|status|env" >&2
    exit 2
    ;;
esac
