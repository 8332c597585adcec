#!/usr/bin/env bash
# Benchmark: `oauthq worker -c 2` (release build) against Celery 5.7 `worker -P prefork -c 2` on the same `ping`
# tasks, on a private redis-server (127.0.0.1, free port, no persistence, killed at the end).
#
#   drain:    N pre-enqueued ping tasks (default 20,000; real send_task messages with fresh ids), results stored;
#             rate = N / (last date_done - first date_done); wall = worker start to last result (startup included)
#   latency:  L tasks (default 2,000) one at a time: LPUSH -> result PUBLISH seen by a PSUBSCRIBEd client
#   idle RSS: after the drain and 3 s idle; Celery = main process + its pool children
#   TLS:      the same oauthq runs again with its connections over TLS (rediss://, a CA and server certificate made
#             by `openssl` in the run directory; the server listens on a plain and a TLS port, the measuring client
#             stays on the plain one); the TLS/plain drain ratio is the cost of TLS
#   events:   with BENCH_EVENTS=1, oauthq runs a second time with task events on (-E: task-received, -started,
#             -succeeded published for every task; no monitor subscribed) and the table gets its column
#
# Usage: [BENCH_EVENTS=1] scripts/bench-worker.sh [N] [L]      Not part of the tests. Needs redis-server and python3-venv.
# OAUTHQ_BENCH_BASELINE=PATH: also drain with that oauthq binary over plain TCP (e.g. a build of an older commit),
# in the same run, for a before/after comparison.
# OAUTHQ_BENCH_ROUNDS=R: repeat the plain/TLS pair R times (alternating which goes first) and report the median
# of the per-round TLS/plain ratios: on a shared machine one pair is noisy.
# The machine should be otherwise idle: both workers share its cores with Redis and the measuring client.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
count="${1:-20000}"
latency_count="${2:-2000}"

command -v openssl >/dev/null || { echo "bench-worker.sh: the openssl CLI is missing (scripts/apt-install.sh openssl)" >&2; exit 1; }
scripts/python-env.sh
python="$root/.venv/bin/python"
celery="$root/.venv/bin/celery"

# --static-swift-stdlib: how oauthq is deployed on Linux; the Swift runtime and Foundation are then linked into the
# binary, so only the pages it uses are resident (dynamically linked, idle RSS is ~6 MiB higher).
echo "building oauthq (release, static Swift stdlib)…" >&2
swift build -c release --product oauthq --static-swift-stdlib >/dev/null
oauthq="$root/.build/release/oauthq"

work="$(mktemp -d /tmp/oauthq-bench.XXXXXX)"
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
tls_port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
# A CA and a server certificate for localhost, for the TLS run.
(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj "/CN=oauthq bench CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 \
        -extfile server.ext 2>/dev/null
)
redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --pidfile "$work/redis.pid" --logfile "$work/redis.log" \
    --tls-port "$tls_port" --tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key" \
    --tls-ca-cert-file "$work/ca.crt" --tls-auth-clients no \
    --save "" --appendonly no --daemonize no &
redis_pid=$!
disown "$redis_pid"
worker_pid=""
cleanup() {
    if [[ -n "$worker_pid" ]]; then pkill -KILL -P "$worker_pid" 2>/dev/null || true; kill -KILL "$worker_pid" 2>/dev/null || true; fi
    kill -KILL "$redis_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.05; done
    rm -rf "$work"
}
trap cleanup EXIT
export REDIS_URL="redis://127.0.0.1:$port/0"
unset RESULT_BACKEND DATABASE_URL
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

now() { date +%s.%N; }

# rss_kb PID: the RSS of PID and all its descendants, in kB.
rss_kb() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# run_one NAME COMMAND...: enqueue, start the worker, wait for every result, idle RSS, latency, stop.
run_one() {
    local name="$1"; shift
    local queue="bench_$name"
    "$python" harness/interop/bench.py enqueue "$queue" "$count" "$work/$name.ids"
    local start; start="$(now)"
    (cd harness/interop && exec "$@" -Q "$queue" >"$work/$name.log" 2>&1) &
    worker_pid=$!
    local drain; drain="$("$python" harness/interop/bench.py wait "$work/$name.ids" 600)"
    local wall; wall="$(awk -v a="$(now)" -v b="$start" 'BEGIN { printf "%.3f", a - b }')"
    sleep 3
    local rss; rss="$(rss_kb "$worker_pid")"
    local lat; lat="$("$python" harness/interop/bench.py latency "$queue" "$latency_count")"
    kill -TERM "$worker_pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.05; done
    pkill -KILL -P "$worker_pid" 2>/dev/null || true
    kill -KILL "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
    worker_pid=""
    echo "{\"name\": \"$name\", \"wall_s\": $wall, \"rss_kb\": $rss, \"drain\": $drain, \"latency\": $lat}"
}

echo "oauthq: $count tasks…" >&2
swift_json="$(run_one oauthq "$oauthq" worker -c 2 --loglevel warning)"
echo "oauthq over TLS: $count tasks…" >&2
tls_url="rediss://localhost:$tls_port/0?ssl_ca_certs=$work/ca.crt"
tls_json="$(run_one oauthq-tls env REDIS_URL="$tls_url" "$oauthq" worker -c 2 --loglevel warning)"
rounds_json="[{\"plain\": $swift_json, \"tls\": $tls_json}"
for round in $(seq 2 "${OAUTHQ_BENCH_ROUNDS:-1}"); do
    echo "round $round: oauthq over TLS, then plain…" >&2
    if (( round % 2 == 0 )); then
        t="$(run_one oauthq-tls env REDIS_URL="$tls_url" "$oauthq" worker -c 2 --loglevel warning)"
        p="$(run_one oauthq "$oauthq" worker -c 2 --loglevel warning)"
    else
        p="$(run_one oauthq "$oauthq" worker -c 2 --loglevel warning)"
        t="$(run_one oauthq-tls env REDIS_URL="$tls_url" "$oauthq" worker -c 2 --loglevel warning)"
    fi
    rounds_json="$rounds_json, {\"plain\": $p, \"tls\": $t}"
done
rounds_json="$rounds_json]"
baseline_json="null"
if [[ -n "${OAUTHQ_BENCH_BASELINE:-}" ]]; then
    echo "baseline $OAUTHQ_BENCH_BASELINE: $count tasks…" >&2
    baseline_json="$(run_one baseline "$OAUTHQ_BENCH_BASELINE" worker -c 2 --loglevel warning)"
fi
events_json=""
if [[ "${BENCH_EVENTS:-0}" == "1" ]]; then
    echo "oauthq -E: $count tasks…" >&2
    events_json="$(run_one oauthq_events "$oauthq" worker -c 2 --loglevel warning -E)"
fi
echo "celery: $count tasks…" >&2
celery_json="$(run_one celery "$celery" -A celery_app worker -P prefork -c 2 --loglevel WARNING)"

"$python" - "$swift_json" "$celery_json" "$count" "$tls_json" "$baseline_json" "$rounds_json" "$events_json" <<'EOF'
import json, statistics, sys
s, c, n, t = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
b, rounds = json.loads(sys.argv[5]), json.loads(sys.argv[6])
e = json.loads(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[7] else None
def rate(r): return r["drain"]["count"] / r["drain"]["span_s"] if r["drain"]["span_s"] else float("nan")
rows = [
    ("tasks with a result", f'{s["drain"]["count"]}/{n}', f'{c["drain"]["count"]}/{n}', ""),
    ("drain rate (tasks/s)", f"{rate(s):,.0f}", f"{rate(c):,.0f}", f"{rate(s) / rate(c):.1f}x (target >= 25x)"),
    ("wall time incl. startup (s)", f'{s["wall_s"]:.2f}', f'{c["wall_s"]:.2f}', ""),
    ("latency p50 (ms)", f'{s["latency"]["p50_ms"]:.3f}', f'{c["latency"]["p50_ms"]:.3f}', "target <= 1 ms"),
    ("latency p99 (ms)", f'{s["latency"]["p99_ms"]:.3f}', f'{c["latency"]["p99_ms"]:.3f}', "target <= 5 ms"),
    ("idle RSS (MiB)", f'{s["rss_kb"] / 1024:.1f}', f'{c["rss_kb"] / 1024:.1f}', f'{s["rss_kb"] / c["rss_kb"]:.2f} of Celery (target <= 0.20)'),
]
print(f"| metric | oauthq worker -c 2 | celery -P prefork -c 2 | |")
print("|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
print(f'\nstates: oauthq {s["drain"]["states"]}, celery {c["drain"]["states"]}; latency n = {s["latency"]["n"]}')
print("\n| oauthq worker -c 2 | plain TCP | TLS (rediss://) | TLS / plain |")
print("|---|---|---|---|")
print(f'| tasks with a result | {s["drain"]["count"]}/{n} | {t["drain"]["count"]}/{n} | |')
print(f"| drain rate (tasks/s) | {rate(s):,.0f} | {rate(t):,.0f} | {rate(t) / rate(s):.2f} (TLS costs {100 * (1 - rate(t) / rate(s)):.1f}%; goal < 15%) |")
print(f'| latency p50 (ms) | {s["latency"]["p50_ms"]:.3f} | {t["latency"]["p50_ms"]:.3f} | |')
print(f'| latency p99 (ms) | {s["latency"]["p99_ms"]:.3f} | {t["latency"]["p99_ms"]:.3f} | |')
print(f'| idle RSS (MiB) | {s["rss_kb"] / 1024:.1f} | {t["rss_kb"] / 1024:.1f} | |')
if len(rounds) > 1:
    ratios = [rate(r["tls"]) / rate(r["plain"]) for r in rounds]
    pairs = ", ".join(f'{rate(r["plain"]):,.0f}/{rate(r["tls"]):,.0f}' for r in rounds)
    print(f"\n{len(rounds)} rounds, drain plain/TLS (tasks/s): {pairs}; median TLS/plain "
          f"{statistics.median(ratios):.2f} (TLS costs {100 * (1 - statistics.median(ratios)):.1f}%)")
if b:
    print(f'\nbaseline binary over plain TCP: {b["drain"]["count"]}/{n} results, drain {rate(b):,.0f} tasks/s '
          f'(this build / baseline: {rate(s) / rate(b):.2f}), latency p50 {b["latency"]["p50_ms"]:.3f} ms, '
          f'p99 {b["latency"]["p99_ms"]:.3f} ms, idle RSS {b["rss_kb"] / 1024:.1f} MiB')
if e:
    print(f"\n| task events | oauthq -c 2 | oauthq -c 2 -E | cost |")
    print("|---|---|---|---|")
    print(f'| drain rate (tasks/s) | {rate(s):,.0f} | {rate(e):,.0f} | {100 * (1 - rate(e) / rate(s)):.1f}% slower |')
    print(f'| latency p50 (ms) | {s["latency"]["p50_ms"]:.3f} | {e["latency"]["p50_ms"]:.3f} | |')
    print(f'| latency p99 (ms) | {s["latency"]["p99_ms"]:.3f} | {e["latency"]["p99_ms"]:.3f} | |')
    print(f'| idle RSS (MiB) | {s["rss_kb"] / 1024:.1f} | {e["rss_kb"] / 1024:.1f} | |')
    print(f'states with -E: {e["drain"]["states"]}')
EOF
