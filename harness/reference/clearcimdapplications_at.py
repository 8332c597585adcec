#!/usr/bin/env python
"""Run DOT 3.4.1's own `manage.py clearcimdapplications` with django.utils.timezone.now frozen at --now.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/clearcimdapplications_at.py \\
        --now 2026-11-30T01:56:34.908906+00:00 [--batch-size N]

The differential test runs this and oauthq with the same instant, so rows exactly at `now` are
compared too. Everything else (output, errors, exit status) is the unmodified management command.
DJANGO_SETTINGS_MODULE selects the project (default: the plain reference project).
"""
import argparse
import datetime as dt
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    parser.add_argument("--batch-size", default=None)
    args = parser.parse_args()
    now = dt.datetime.fromisoformat(args.now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproject.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line
    from django.utils import timezone

    timezone.now = lambda: now  # the command reads timezone.now() once
    argv = ["manage.py", "clearcimdapplications"]
    if args.batch_size is not None:
        argv += ["--batch-size", args.batch_size]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
