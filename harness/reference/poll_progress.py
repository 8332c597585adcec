#!/usr/bin/env python
"""Send one task with Celery 5.7's client and poll its state as a Python caller does.

    REDIS_URL=redis://... .venv/bin/python harness/reference/poll_progress.py TASK QUEUE '{"kwarg": ...}' [TIMEOUT]

Polls the task's state and info (one backend read each time) every 20 ms until the task is ready, and prints one JSON object:
{"states": [distinct states in the order first seen], "progress": [each distinct PROGRESS info, in
order], "started_info": the STARTED info or null, "final": the final state, "result": its value,
"seconds": time from send to ready}.
"""
import json
import os
import sys
import time

from celery import Celery


def main():
    task, queue, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    broker = os.environ["REDIS_URL"]
    app = Celery("oauthq_progress", broker=broker, backend=broker)
    started = time.monotonic()
    result = app.send_task(task, kwargs=kwargs, queue=queue)
    states, progress, started_info = [], [], None
    while time.monotonic() - started < timeout:
        # One read per poll: `result.state` then `result.info` are two GETs, and a state change between them
        # pairs PROGRESS with the final result (Celery's AsyncResult has that race; the test must not).
        meta = result.backend.get_task_meta(result.id)
        state, info = meta["status"], meta.get("result")
        if state not in states:
            states.append(state)
        if state == "STARTED" and started_info is None:
            started_info = info
        if state == "PROGRESS" and (not progress or progress[-1] != info):
            progress.append(info)
        if state in ("SUCCESS", "FAILURE", "REVOKED"):
            break
        time.sleep(0.02)
    out = {"states": states, "progress": progress, "started_info": started_info, "final": result.state,
           "result": result.result if result.successful() else repr(result.result),
           "seconds": time.monotonic() - started}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
