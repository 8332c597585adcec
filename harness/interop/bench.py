"""Measurements for scripts/bench-worker.sh, identical for both workers (oauthq and Celery).

  bench.py enqueue QUEUE N IDS_FILE   captures one real `send_task("ping")` message (Celery 5.7 + kombu), then
                                      LPUSHes N copies with fresh ids and delivery tags (pipelined); writes the ids
  bench.py wait IDS_FILE TIMEOUT      waits until every id has a result; prints JSON {count, span_s, states}
                                      where span_s = last date_done - first date_done
  bench.py latency QUEUE N            N tasks one at a time: LPUSH, then wait for the result's PUBLISH
                                      (PSUBSCRIBE celery-task-meta-*); prints JSON {p50_ms, p99_ms, mean_ms}
Environment: REDIS_URL.
"""
import datetime
import json
import os
import statistics
import sys
import time
import uuid

import redis
from celery import Celery

URL = os.environ["REDIS_URL"]


def template(queue):
    """One message exactly as send_task writes it, taken from the list it was pushed to."""
    app = Celery("bench_template", broker=URL, backend=URL)
    probe = queue + ".template"
    result = app.send_task("ping", queue=probe, ignore_result=True)
    client = redis.Redis.from_url(URL)
    raw = client.rpop(probe)
    client.delete(probe)
    return raw.decode(), result.id


def enqueue(queue, count, ids_file):
    raw, old_id = template(queue)
    envelope = json.loads(raw)
    old_tag = envelope["properties"]["delivery_tag"]
    envelope["properties"]["delivery_info"]["routing_key"] = queue
    # ignore_result was set only to keep the probe from subscribing; the copies store results.
    envelope["headers"]["ignore_result"] = None
    base = json.dumps(envelope)
    client = redis.Redis.from_url(URL)
    ids = []
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        task_id = str(uuid.uuid4())
        ids.append(task_id)
        pipe.lpush(queue, base.replace(old_id, task_id).replace(old_tag, str(uuid.uuid4())))
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()
    with open(ids_file, "w") as handle:
        json.dump(ids, handle)


def wait(ids_file, timeout):
    ids = json.load(open(ids_file))
    client = redis.Redis.from_url(URL)
    deadline = time.monotonic() + float(timeout)
    keys = ["celery-task-meta-" + task_id for task_id in ids]
    # Cheap polling (a full MGET of 20,000 results would load the single-threaded Redis the workers share):
    # wait for the last-enqueued results first, then fetch the rest, then re-poll only what is missing.
    tail = keys[-20:]
    while client.exists(*tail) < len(tail) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = {}
    missing = keys
    while missing and time.monotonic() < deadline:
        for start in range(0, len(missing), 1000):
            chunk = missing[start:start + 1000]
            for key, value in zip(chunk, client.mget(chunk)):
                if value is not None:
                    found[key] = value
        missing = [key for key in keys if key not in found]
        if missing:
            time.sleep(0.2)
    results = [json.loads(value) for value in found.values()]
    states = {}
    for result in results:
        states[result["status"]] = states.get(result["status"], 0) + 1
    stamps = sorted(datetime.datetime.fromisoformat(r["date_done"]) for r in results if r.get("date_done"))
    span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0.0
    print(json.dumps({"count": len(results), "expected": len(keys), "span_s": span, "states": states}))


def latency(queue, count):
    raw, old_id = template(queue)
    envelope = json.loads(raw)
    old_tag = envelope["properties"]["delivery_tag"]
    envelope["properties"]["delivery_info"]["routing_key"] = queue
    envelope["headers"]["ignore_result"] = None
    base = json.dumps(envelope)
    client = redis.Redis.from_url(URL)
    listener = redis.Redis.from_url(URL).pubsub(ignore_subscribe_messages=True)
    listener.psubscribe("celery-task-meta-*")
    samples = []
    for _ in range(int(count)):
        task_id = str(uuid.uuid4())
        message = base.replace(old_id, task_id).replace(old_tag, str(uuid.uuid4()))
        channel = ("celery-task-meta-" + task_id).encode()
        start = time.perf_counter()
        client.lpush(queue, message)
        while True:
            # None also comes back for an ignored subscribe confirmation: only the deadline means failure.
            event = listener.get_message(timeout=10)
            if event is not None and event["type"] == "pmessage" and event["channel"] == channel:
                break
            if time.perf_counter() - start > 10:
                raise SystemExit("no result within 10 s")
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    print(json.dumps({"p50_ms": p(0.50), "p99_ms": p(0.99), "mean_ms": statistics.fmean(samples), "n": len(samples)}))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "enqueue":
        enqueue(arguments[0], int(arguments[1]), arguments[2])
    elif command == "wait":
        wait(arguments[0], arguments[1])
    elif command == "latency":
        latency(arguments[0], arguments[1])
    else:
        raise SystemExit(__doc__)
