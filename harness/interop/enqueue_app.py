"""A tiny Celery 5.7 app with tasks named like oauthq's, for interop tests.

Each task records what it received (name, id, args, kwargs, delivery info, the beat header) in RECORDS and
returns a small value, so the result backend gets a SUCCESS record; `interop.fail` raises ValueError.
Broker and result backend: $REDIS_URL (default redis://127.0.0.1:6390/0).
"""
import os
import threading

from celery import Celery

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
app = Celery("enqueue_app", broker=URL, backend=URL)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_serializer="json",
    accept_content=["json"],
)

RECORDS = []
LOCK = threading.Lock()


def record(task, args, kwargs):
    request = task.request
    entry = {
        "task": task.name,
        "id": request.id,
        "args": list(args),
        "kwargs": kwargs,
        "delivery_info": dict(request.delivery_info or {}),
        "celery_beat_task": getattr(request, "celery_beat_task", None),
        "expires": str(request.expires) if request.expires else None,
        "eta": str(request.eta) if request.eta else None,
    }
    with LOCK:
        RECORDS.append(entry)
    return entry


@app.task(name="cleartokens", bind=True)
def cleartokens(self, *args, **kwargs):
    record(self, args, kwargs)
    return {"deleted": 0, "kwargs": kwargs}


@app.task(name="createapplication", bind=True)
def createapplication(self, *args, **kwargs):
    record(self, args, kwargs)
    return {"client_type": args[0] if args else None, "name": kwargs.get("name")}


@app.task(name="ping", bind=True)
def ping(self, *args, **kwargs):
    record(self, args, kwargs)
    return "pong"


@app.task(name="interop.fail", bind=True)
def fail(self, *args, **kwargs):
    record(self, args, kwargs)
    raise ValueError("bad grant authorization-code")
