"""Celery 5.7 client side of oauthq's interop tests: send_task + AsyncResult.get, exactly as a Python service does.

Reads a JSON list of calls on stdin and prints a JSON list of outcomes on stdout. A call is
  {"task": name, "args": [...], "kwargs": {...}, "queue": q, "priority": n, "countdown": s, "expires": s,
   "ignore_result": bool, "timeout": s, "send_only": bool}
or {"get": task_id, "timeout": s}. All calls are sent first, then awaited in order.
An outcome is {"id", "ok": true, "result", "state", "date_done"} or {"id", "ok": false, "type", "module", "args", "state"}.
Environment: REDIS_URL (broker), RESULT_BACKEND (default: the broker).
"""
import json
import os
import sys

from celery import Celery


def main():
    broker = os.environ["REDIS_URL"]
    app = Celery("oauthq_interop", broker=broker, backend=os.environ.get("RESULT_BACKEND") or broker)
    app.conf.broker_connection_retry_on_startup = True
    calls = json.load(sys.stdin)
    pending = []
    for call in calls:
        if "get" in call:
            pending.append((app.AsyncResult(call["get"]), call))
            continue
        options = {}
        for key in ("queue", "priority", "countdown", "expires", "ignore_result", "time_limit", "soft_time_limit"):
            if call.get(key) is not None:
                options[key] = call[key]
        result = app.send_task(call["task"], args=call.get("args", []), kwargs=call.get("kwargs", {}), **options)
        pending.append((result, call))
    outcomes = []
    for result, call in pending:
        if call.get("send_only"):
            outcomes.append({"id": result.id, "ok": None})
            continue
        try:
            value = result.get(timeout=call.get("timeout", 30))
            outcomes.append({"id": result.id, "ok": True, "result": value, "state": result.state,
                             "date_done": str(result.date_done)})
        except Exception as error:  # noqa: BLE001 - the test checks the type
            outcomes.append({"id": result.id, "ok": False, "type": type(error).__name__,
                             "module": type(error).__module__, "args": list(error.args), "state": result.state})
    json.dump(outcomes, sys.stdout, default=str)


if __name__ == "__main__":
    main()
