"""Celery 5.7 events monitor for oauthq's observability tests: what `celery events` / Flower would see.

Usage: events.py HOSTNAME SECONDS (REDIS_URL: the broker). Prints "listening" once subscribed, a line
"event <type>" per worker event from HOSTNAME as it arrives, and finally one JSON object:
  {"events": [{"type", "timestamp", "clock", "freq", "alive_after"}...], "alive_at_end": bool, "known": bool}
where alive_after is app.events.State's worker.alive right after the event. Stops after worker-offline
from HOSTNAME or after SECONDS, whichever comes first.
"""
import json
import os
import sys
import threading
import time

import redis
from celery import Celery


def main():
    hostname, seconds = sys.argv[1], float(sys.argv[2])
    app = Celery("oauthq_events", broker=os.environ["REDIS_URL"])
    state = app.events.State()
    seen = []
    done = threading.Event()

    def on_event(event):
        state.event(event)
        if event.get("hostname") != hostname or not event.get("type", "").startswith("worker-"):
            return
        worker = state.workers.get(hostname)
        seen.append({"type": event["type"], "timestamp": event.get("timestamp"), "clock": event.get("clock"),
                     "freq": event.get("freq"), "alive_after": bool(worker and worker.alive),
                     "received": time.time()})
        print("event " + event["type"], flush=True)
        if event["type"] == "worker-offline":
            done.set()

    probe = redis.Redis.from_url(os.environ["REDIS_URL"])
    patterns_before = probe.execute_command("PUBSUB", "NUMPAT")
    with app.connection() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": on_event})
        # Consume on a thread of our own so the total time is bounded (capture's timeout is per wait).
        consumer = threading.Thread(target=lambda: receiver.capture(limit=None, timeout=None, wakeup=False), daemon=True)
        consumer.start()
        # "listening" only once kombu's PSUBSCRIBE is in place (at most 10 s).
        deadline = time.time() + 10
        while probe.execute_command("PUBSUB", "NUMPAT") <= patterns_before and time.time() < deadline:
            time.sleep(0.05)
        print("listening", flush=True)
        done.wait(seconds)
        receiver.should_stop = True
        consumer.join(5)
    worker = state.workers.get(hostname)
    print(json.dumps({"events": seen, "alive_at_end": bool(worker and worker.alive), "known": worker is not None}),
          flush=True)


if __name__ == "__main__":
    main()
