"""A tiny Celery 5.7 app with a `ping` task, for scripts/bench-worker.sh (the Python baseline).

celery -A celery_app worker -P prefork -c 2 (run from harness/interop, REDIS_URL set).
"""
import os

from celery import Celery

broker = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
app = Celery("bench", broker=broker, backend=os.environ.get("RESULT_BACKEND") or broker)
app.conf.broker_connection_retry_on_startup = True
app.conf.worker_hijack_root_logger = False


@app.task(name="ping")
def ping():
    return "pong"
