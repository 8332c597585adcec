"""Captures what a real Celery 5.7 worker answers to `celery inspect …` and which task events it sends, as
fixtures for oauthq's shape tests (Tests/CeleryProtocolTests/captures/celery-5.7-*.json).

Usage (from this folder, REDIS_URL set to a scratch database):
    python capture_celery.py OUTPUT_DIR
Starts `celery worker -E -c 2` on the capture app, sends a slow task (active), queued tasks (reserved),
a countdown task (scheduled), a success, a failure, a retry and a revoked task, then writes:
  celery-5.7-inspect.json  {command: reply of the one worker}
  celery-5.7-events.json   {event type: the first event of that type}
"""
import json
import os
import subprocess
import sys
import threading
import time

from celery import Celery

broker = os.environ["REDIS_URL"]
app = Celery("capture", broker=broker, backend=broker)
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True


@app.task(name="capture.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="capture.add")
def add(x, y):
    return x + y


@app.task(name="capture.fail")
def fail():
    raise ValueError("boom")


@app.task(name="capture.retry", bind=True, max_retries=1, default_retry_delay=0.2)
def retry(self):
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("again"))
    return "done"


def main():
    out = sys.argv[1]
    events = {}
    ready = threading.Event()

    def listen():
        with app.connection() as connection:
            def on_event(event):
                events.setdefault(event["type"], event)
            receiver = app.events.Receiver(connection, handlers={"*": on_event})
            ready.set()
            receiver.capture(limit=None, timeout=None, wakeup=False)

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(5)
    here = os.path.dirname(os.path.abspath(__file__))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "capture_celery", "worker", "-E", "-c", "2", "-P", "prefork",
         "-n", "capture@localhost", "--without-mingle", "--without-gossip", "-l", "WARNING", "--prefetch-multiplier", "2"],
        cwd=here,
    )
    try:
        inspect = app.control.inspect(timeout=2.0, destination=["capture@localhost"])
        deadline = time.time() + 30
        while time.time() < deadline and not inspect.ping():
            time.sleep(0.3)
        add.delay(1, 2).get(timeout=10)
        fail.delay()
        retry.delay()
        revoked = add.apply_async((3, 4), countdown=30)
        app.control.revoke(revoked.id)
        slow = [sleep.delay(6) for _ in range(2)]
        queued = [sleep.delay(0.1) for _ in range(3)]
        scheduled = add.apply_async((5, 6), countdown=60)
        time.sleep(1.5)
        replies = {}
        for command in ["stats", "active", "reserved", "scheduled", "registered", "active_queues", "revoked", "conf",
                        "report"]:
            replies[command] = getattr(inspect, command)()
        replies["query_task"] = inspect.query_task(slow[0].id, scheduled.id)
        replies["unknown"] = app.control.broadcast("no_such_command", reply=True, timeout=2.0,
                                                   destination=["capture@localhost"])
        replies["revoke"] = app.control.revoke("00000000-0000-0000-0000-000000000000", reply=True, timeout=2.0,
                                               destination=["capture@localhost"])
        replies["cancel_consumer"] = app.control.cancel_consumer("other", reply=True, timeout=2.0,
                                                                  destination=["capture@localhost"])
        replies["add_consumer"] = app.control.add_consumer("other", reply=True, timeout=2.0,
                                                           destination=["capture@localhost"])
        replies["enable_events"] = app.control.enable_events(reply=True, timeout=2.0, destination=["capture@localhost"])
        replies["ping"] = inspect.ping()
        for result in slow + queued:
            result.get(timeout=20)
        time.sleep(1)
        replies["shutdown"] = app.control.shutdown(reply=True, timeout=2.0, destination=["capture@localhost"])
        worker.wait(timeout=20)
        time.sleep(0.5)
        with open(os.path.join(out, "celery-5.7-inspect.json"), "w") as f:
            json.dump({k: (v[0] if isinstance(v, list) and v else v) for k, v in replies.items()}, f, indent=1,
                      sort_keys=True, default=str)
        with open(os.path.join(out, "celery-5.7-events.json"), "w") as f:
            json.dump(events, f, indent=1, sort_keys=True, default=str)
        print("captured", sorted(replies), sorted(events))
    finally:
        if worker.poll() is None:
            worker.kill()


if __name__ == "__main__":
    main()
