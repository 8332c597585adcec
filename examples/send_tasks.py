"""Send oauthq's tasks from Python with Celery 5.7: no task code on this side, only the names.

    REDIS_URL=redis://127.0.0.1:6390/1 .venv/bin/python examples/send_tasks.py

REDIS_URL defaults to the quick start's Redis (scripts/quickstart.sh: port 6390, database 1).
"""
import os
import sys

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout

broker = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/1")
app = Celery("oauth-maintenance", broker=broker, backend=os.environ.get("RESULT_BACKEND", broker))
app.conf.update(
    task_serializer="json",  # oauthq reads JSON messages only (Celery's default)
    accept_content=["json"],
    result_serializer="json",
    task_default_queue="celery",  # the queue the workers consume (oauthq worker -Q)
)


def ping():
    # A worker consuming the queue answers "pong"; nobody answering raises TimeoutError.
    return app.send_task("ping").get(timeout=10)


def create_application(name):
    # args: DOT's positional arguments; kwargs: its options (client_id, user, redirect_uris,
    # post_logout_redirect_uris, client_secret, hash_client_secret, name, skip_authorization, algorithm).
    result = app.send_task(
        "createapplication",
        args=["confidential", "authorization-code"],
        kwargs={"name": name, "redirect_uris": "https://app.example.com/oauth/callback", "skip_authorization": True},
    )
    # {'id': …, 'client_id': …, 'name': …, 'client_secret': …}: the generated secret, only in this result.
    return result.get(timeout=60)


def clear_tokens():
    # kwargs: DOT's setting names (or lower case); settings not given come from the worker's environment.
    result = app.send_task("cleartokens", kwargs={"REFRESH_TOKEN_EXPIRE_SECONDS": 86400, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 10000})
    # {'steps': [{'step': 'revoked_refresh_tokens', 'deleted': 2, 'batches': 1, …}, …six steps], 'now': …,
    # 'seconds': …, 'dryRun': False}, or {'skipped': 'already running'} while another run holds the lock.
    return result.get(timeout=3600)


def main():
    try:
        print("ping:", ping())
    except ResultTimeout:
        sys.exit(f"no worker answered on {broker} (is `oauthq worker` running against it?)")

    app_row = create_application("billing-service")
    secret = app_row.pop("client_secret")  # store it in your secret manager; never log it
    print("created:", app_row, f"(client_secret: {len(secret)} characters)")

    try:
        # No redirect URIs with the authorization-code grant: DOT's validation refuses it.
        app.send_task("createapplication", args=["confidential", "authorization-code"]).get(timeout=60)
    except ValueError as error:
        # DOT's validation errors: {field: [message, …]}, as `manage.py createapplication` prints them.
        print("refused:", error.args[0])

    summary = clear_tokens()
    if "skipped" in summary:
        print("cleartokens skipped:", summary["skipped"])
    else:
        deleted = {step["step"]: step["deleted"] for step in summary["steps"]}
        print(f"cleartokens deleted {sum(deleted.values())} rows in {summary['seconds']:.2f} s:", deleted)


if __name__ == "__main__":
    main()
