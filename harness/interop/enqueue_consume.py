"""Consume COUNT messages from QUEUE with a real Celery 5.7 worker (embedded, solo pool) and print what each task
received as one JSON line. Waits until each result is stored in the backend before stopping the worker.

Usage: enqueue_consume.py QUEUE COUNT [TIMEOUT_SECONDS]   (exit 1 on timeout)
Env:   REDIS_URL
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from celery.contrib.testing.worker import start_worker  # noqa: E402

import enqueue_app  # noqa: E402

queue, count = sys.argv[1], int(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
app = enqueue_app.app
deadline = time.monotonic() + timeout
ok = False
with start_worker(app, queues=[queue], perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
    print("ready", file=sys.stderr, flush=True)
    while time.monotonic() < deadline:
        with enqueue_app.LOCK:
            got = len(enqueue_app.RECORDS)
        if got >= count:
            ok = True
            break
        time.sleep(0.05)
    if ok:
        backend = app.backend
        for entry in list(enqueue_app.RECORDS):
            while time.monotonic() < deadline and backend.get_state(entry["id"]) not in ("SUCCESS", "FAILURE"):
                time.sleep(0.05)
for entry in enqueue_app.RECORDS:
    print(json.dumps(entry, sort_keys=True), flush=True)
sys.exit(0 if ok else 1)
