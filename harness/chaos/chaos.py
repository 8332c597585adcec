"""The chaos and security suite: attacks running oauthq workers and beats on this machine (loopback only, private
servers, every loop bounded in count and time) and prints a table of figures. Run through scripts/chaos.sh.

    chaos.py [--small] [--fuzz-seconds N] [--keep] [SCENARIO ...]

Scenarios: killstorm redis postgres poison pill pause warm beat security sentinel tls (default: all, in this order).
Environment: OAUTHQ_BIN (the oauthq binary), DATABASE_URL and OAUTHQ_PASSWORD_DATABASE_URL (the shared cluster,
used by `security` for temporary databases and the password role only). Exit status: 0 when every scenario
passed, 1 otherwise.
"""
import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True   # no __pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ChaosError, Harness  # noqa: E402
import scenarios  # noqa: E402
import hardening  # noqa: E402
import managed_redis  # noqa: E402

ORDER = ("killstorm", "redis", "postgres", "poison", "pill", "pause", "warm", "beat", "security", "sentinel", "tls")

SIZES = {
    "full": {"killstorm_tasks": 10_000, "redis_tasks": 6_000, "pg_units": 1_000_000, "pg_batch": 10_000,
             "poison": 1_200, "poison_huge": 8, "poison_valid": 3_000, "huge_bytes": 4 << 20, "warm_tasks": 5_000,
             "beat_ticks": 100, "fuzz_seconds": 600, "pill_tasks": 1_000, "pause_units": 60_000, "pause_batch": 500,
             "sentinel_tasks": 2_000, "tls_tasks": 500},
    "small": {"killstorm_tasks": 1_000, "redis_tasks": 1_500, "pg_units": 20_000, "pg_batch": 300,
              "poison": 200, "poison_huge": 2, "poison_valid": 400, "huge_bytes": 1 << 20, "warm_tasks": 800,
              "beat_ticks": 20, "fuzz_seconds": 0, "pill_tasks": 300, "pause_units": 20_000, "pause_batch": 200,
              "sentinel_tasks": 2_000, "tls_tasks": 100},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="the small size (part of scripts/test.sh)")
    parser.add_argument("--fuzz-seconds", type=int, default=None,
                        help="run scripts/fuzz-envelope.sh for N seconds in `poison` (full size: 600; small: 0)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs; secrets.txt!)")
    parser.add_argument("names", nargs="*", metavar="SCENARIO", help=" ".join(ORDER))
    args = parser.parse_args()
    names = args.names or list(ORDER)
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {' '.join(ORDER)}")
    size = dict(SIZES["small" if args.small else "full"])
    if args.fuzz_seconds is not None:
        size["fuzz_seconds"] = args.fuzz_seconds
    root = Path(__file__).resolve().parents[2]
    oauthq = os.environ.get("OAUTHQ_BIN", str(root / ".build/debug/oauthq"))
    if not os.access(oauthq, os.X_OK):
        sys.exit(f"chaos: no oauthq binary at {oauthq} (build it, or set OAUTHQ_BIN)")

    harness = Harness(oauthq, root, keep=args.keep)

    def on_signal(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")
    signal.signal(signal.SIGTERM, on_signal)

    rows = []
    started = time.monotonic()
    label = "small" if args.small else "full"
    print(f"chaos: {label} size, scenarios: {' '.join(names)}; run directory {harness.dir}", flush=True)
    try:
        for name in [n for n in ORDER if n in names]:
            print(f"\n== {name}", flush=True)
            t0 = time.monotonic()
            try:
                module = {"pill": hardening, "pause": hardening, "sentinel": managed_redis, "tls": managed_redis}.get(name, scenarios)
                passed, figures = getattr(module, name)(harness, size)
            except ChaosError as error:
                passed, figures = False, [f"error: {error}"]
            except Exception:  # noqa: BLE001 - a broken scenario is a FAIL with its traceback, not a crash
                passed, figures = False, ["error: " + traceback.format_exc().strip().splitlines()[-1]]
                traceback.print_exc()
            seconds = time.monotonic() - t0
            rows.append((name, passed, figures, seconds))
            print(f"{'PASS' if passed else 'FAIL'} {name} ({seconds:.0f} s)", flush=True)
            for figure in figures:
                print(f"    {figure}", flush=True)
    except KeyboardInterrupt:
        print("\nchaos: interrupted; stopping everything it started", file=sys.stderr, flush=True)
        harness.cleanup()
        return 130
    finally:
        if args.keep:
            print(f"chaos: kept {harness.dir}", flush=True)
        harness.cleanup()

    print(f"\nchaos ({label} size, {time.monotonic() - started:.0f} s)\n")
    print("| scenario | result | seconds | figures |")
    print("|---|---|---:|---|")
    for name, passed, figures, seconds in rows:
        text = "; ".join(" ".join(figure.split())[:400] for figure in figures).replace("|", "/")
        print(f"| {name} | {'PASS' if passed else 'FAIL'} | {seconds:.0f} | {text} |")
    passed = sum(1 for row in rows if row[1])
    failed = len(rows) - passed
    print(f"\n{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
