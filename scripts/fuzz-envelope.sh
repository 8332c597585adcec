#!/usr/bin/env bash
# Builds the libFuzzer harness in Fuzz/ (EnvelopeFuzzer: CeleryMessage.decode, redelivered/retried, TaskTriage,
# dead-letter records and redaction, cleartokens settings from kwargs, JSONValue
# parse → serialize → parse) and runs it for SECONDS (default 60) from the seed corpus in Fuzz/seeds.
#
#   scripts/fuzz-envelope.sh [SECONDS]
#
# The working corpus grows in Fuzz/.build/corpus (kept between runs); crash inputs land in Fuzz/.build/artifacts.
# Exit status: 0 when no crash was found, 1 when libFuzzer reported one, 2 on a build failure.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 64 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/Fuzz"
corpus="$fuzz/.build/corpus"
artifacts="$fuzz/.build/artifacts"
log="$fuzz/.build/fuzz-envelope.log"

echo "==> building EnvelopeFuzzer (release, -sanitize=fuzzer,address)"
# -parse-as-library: the Swift module has no top-level code; the entry point SwiftPM expects (EnvelopeFuzzer_main)
# comes from the C trampoline in Fuzz/Sources/CFuzzerDriver. lld avoids a spurious gold warning about ASan symbols.
if ! (cd "$fuzz" && swift build -c release \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld); then
    echo "build failed" >&2
    exit 2
fi
binary="$(cd "$fuzz" && swift build -c release --show-bin-path)/EnvelopeFuzzer"

mkdir -p "$corpus" "$artifacts"
echo "==> fuzzing for ${seconds}s (corpus: $corpus, seeds: $fuzz/seeds)"
set +e
"$binary" \
    -max_total_time="$seconds" \
    -max_len=8192 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -dict="$fuzz/envelope.dict" \
    -artifact_prefix="$artifacts/" \
    "$corpus" "$fuzz/seeds" >"$log" 2>&1
status=$?
set -e

tail -n 25 "$log"
runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
rate="$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
echo
echo "==> executions: ${runs:-?} in ${seconds}s (${rate:-?}/s); corpus: $(find "$corpus" -type f | wc -l) inputs"
if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|deadly signal|Fatal error|SUMMARY: ' "$log"; then
    echo "==> CRASH found (exit $status); reproducer(s):"
    ls -1 "$artifacts" >&2 || true
    exit 1
fi
echo "==> no crash"
