#!/usr/bin/env bash
# oauthq from nothing to running tasks, on a Debian/Ubuntu machine with Swift 6.2+ (no Docker needed).
#
#   scripts/quickstart.sh        install what is missing, start Redis + PostgreSQL, create the DOT schema,
#                                build release binaries, start 2 workers + 1 beat in the background,
#                                run a createapplication and a cleartokens task, print the results and status
#   scripts/quickstart.sh stop   stop the workers and beat (SIGTERM: warm shutdown), wait for them, then
#                                stop Redis and PostgreSQL (scripts/services.sh down)
#
# Idempotent: a second run starts nothing that is already running (live pid check) and prints fresh results.
# The demo keeps out of the test suite's way: its own database (OAUTHQ_DEMO_DB, default oauthq_demo) and
# its own Redis database (OAUTHQ_DEMO_REDIS_DB, default 1); the tests use `oauthq` and Redis db 0.
# Ports and data folder as for scripts/services.sh: OAUTHQ_REDIS_PORT (6390), OAUTHQ_PG_PORT (5440),
# OAUTHQ_DATA_DIR (.oauthq-data/); pid files and logs go to $OAUTHQ_DATA_DIR/quickstart/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${OAUTHQ_DATA_DIR:-$ROOT/.oauthq-data}"
QS="$DATA/quickstart"
REDIS_PORT="${OAUTHQ_REDIS_PORT:-6390}"
DEMO_DB="${OAUTHQ_DEMO_DB:-oauthq_demo}"
DEMO_REDIS_DB="${OAUTHQ_DEMO_REDIS_DB:-1}"
WORKERS=2
SHUTDOWN_TIMEOUT=30        # the worker's --shutdown-timeout; `stop` waits this long plus a margin
PROCESSES=(beat)
for n in $(seq 1 "$WORKERS"); do PROCESSES+=("worker-$n"); done

log() { echo "quickstart: $*" >&2; }
# The last lines of every log of ours, then exit 1.
die() {
    echo "quickstart: error: $*" >&2
    for f in "$QS"/*.log; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}

pid_of() { cat "$QS/$1.pid" 2>/dev/null || true; }
# True when the pid file's process is alive and is our oauthq process (not a recycled pid).
alive() {
    local pid
    pid="$(pid_of "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "oauthq ${1%%-*} "
}

stop_processes() {
    local running=()
    for name in "${PROCESSES[@]}"; do
        if alive "$name"; then
            kill -TERM "$(pid_of "$name")"
            running+=("$name")
        fi
    done
    if [ ${#running[@]} -eq 0 ]; then
        log "no worker or beat running"
    else
        log "sent SIGTERM to ${running[*]}; waiting up to $((SHUTDOWN_TIMEOUT + 10)) s for the warm shutdown"
        local deadline=$((SECONDS + SHUTDOWN_TIMEOUT + 10))
        for name in "${running[@]}"; do
            while alive "$name" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
            if alive "$name"; then
                log "$name (pid $(pid_of "$name")) still running: SIGKILL (a live worker returns its messages)"
                kill -KILL "$(pid_of "$name")" 2>/dev/null || true
            else
                log "$name stopped"
            fi
        done
    fi
    for name in "${PROCESSES[@]}"; do rm -f "$QS/$name.pid"; done
}

if [ "${1:-}" = "stop" ]; then
    stop_processes
    log "stopping Redis and PostgreSQL (scripts/services.sh down)"
    scripts/services.sh down
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: scripts/quickstart.sh [stop]" >&2
    exit 2
fi

# ---- 1. what the build needs (the servers come with scripts/services.sh)
command -v swift >/dev/null ||
    die "no Swift toolchain on PATH: install Swift 6.2 or later (https://www.swift.org/install/linux/), then run this again"
scripts/apt-install.sh libhiredis-dev libpq-dev libssl-dev pkg-config || die "could not install the build libraries"

# ---- 2. Redis and PostgreSQL on loopback, with the demo database
mkdir -p "$QS"
env_lines="$(OAUTHQ_PG_DB="$DEMO_DB" scripts/services.sh up)" || die "scripts/services.sh up failed"
eval "$env_lines"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$DEMO_REDIS_DB"
export REDIS_URL DATABASE_URL
unset RESULT_BACKEND OAUTHQ_PASSWORD_DATABASE_URL

# ---- 3. release build; the same command as scripts/bench-worker.sh and the Dockerfile's builder stage
log "building oauthq (swift build -c release --product oauthq --static-swift-stdlib; several minutes the first time)"
swift build -c release --product oauthq --static-swift-stdlib >"$QS/build.log" 2>&1 ||
    { rc=$?; tail -n 30 "$QS/build.log" >&2; die "swift build failed, exit status $rc (full log: $QS/build.log)"; }
OAUTHQ="$(swift build -c release --show-bin-path)/oauthq"
[ -x "$OAUTHQ" ] || die "no binary at $OAUTHQ after the build"

# ---- 4. DOT's schema in the demo database, and some expired tokens for cleartokens to delete
"$OAUTHQ" migrate >"$QS/migrate.log" 2>&1 || { cat "$QS/migrate.log" >&2; die "oauthq migrate failed"; }
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -f scripts/quickstart-seed.sql >"$QS/seed.log" 2>&1 ||
    { cat "$QS/seed.log" >&2; die "seeding the demo tokens failed"; }
log "database $DEMO_DB: DOT schema ready, demo expired tokens seeded"

# ---- 5. two workers and one beat in the background (skipped when already running)
start() {
    local name="$1"
    shift
    if alive "$name"; then
        log "$name already running (pid $(pid_of "$name"))"
        return
    fi
    nohup "$@" >"$QS/$name.log" 2>&1 </dev/null &
    echo $! >"$QS/$name.pid"
    log "$name started (pid $!, log $QS/$name.log)"
}
for n in $(seq 1 "$WORKERS"); do
    start "worker-$n" "$OAUTHQ" worker -n "quickstart-$n@%h" -c 2 --shutdown-timeout "$SHUTDOWN_TIMEOUT"
done
start beat "$OAUTHQ" beat --entry "cleartokens 0 3 * * *" --entry "ping every 1m"

# Wait until each process says it is up by something it established itself (bounded: 60 s): a worker by
# its registration in Redis (`oauthq status` lists its pid alive), the beat by its "connected to Redis"
# line. A process that went away meanwhile is reported at once. (No /proc/PID/cmdline check here: right
# after `nohup … &` the child may not have exec'd oauthq yet.)
exited() { ! kill -0 "$(pid_of "$1")" 2>/dev/null; }
ready=0
for _ in $(seq 1 120); do
    for name in "${PROCESSES[@]}"; do exited "$name" && die "$name exited right after starting"; done
    status="$("$OAUTHQ" status 2>/dev/null || true)"
    ready=0
    for n in $(seq 1 "$WORKERS"); do
        grep -Eq "pid $(pid_of "worker-$n") .* alive " <<<"$status" && ready=$((ready + 1))
    done
    grep -q "beat: connected to Redis" "$QS/beat.log" 2>/dev/null && ready=$((ready + 1))
    [ $ready -eq $((WORKERS + 1)) ] && break
    sleep 0.5
done
[ "$ready" -eq $((WORKERS + 1)) ] || die "the workers and the beat did not come up within 60 s"

# ---- 6. two real tasks through Redis, as a Python service would send them
run_task() {
    local shown=()
    for argument in "$@"; do
        if [[ "$argument" == *" "* ]]; then shown+=("\"$argument\""); else shown+=("$argument"); fi
    done
    echo
    echo "\$ oauthq enqueue ${shown[*]} --wait"
    # The generated client secret is part of createapplication's result; the quick start does not print it.
    "$OAUTHQ" enqueue "$@" --wait --timeout 120 2>&1 |
        sed -E 's/("client_secret" *: *")[^"]*"/\1(not shown)"/' || die "task $1 did not succeed"
}
run_task createapplication confidential client-credentials --name "quickstart demo"
run_task cleartokens REFRESH_TOKEN_EXPIRE_SECONDS=86400

sleep 1 # the workers' done/failed counters reach Redis with their next heartbeat (every second)
echo
echo "\$ oauthq status"
"$OAUTHQ" status || die "oauthq status failed"

cat <<EOF

oauthq is running: ${WORKERS} workers and 1 beat, logs and pid files in $QS/
Use it from this shell:
  export REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL
  $OAUTHQ enqueue ping --wait
From Python/Celery: Celery(broker="$REDIS_URL", backend="$REDIS_URL").send_task("cleartokens")
Stop everything:  scripts/quickstart.sh stop   (SIGTERM to the workers and beat, waits for their warm
                  shutdown, then stops Redis and PostgreSQL)
EOF
