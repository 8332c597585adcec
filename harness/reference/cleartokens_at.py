#!/usr/bin/env python
"""Run DOT 3.4.1's own `manage.py cleartokens` with django.utils.timezone.now frozen at --now.

    DATABASE_URL=postgres://... [REFRESH_TOKEN_EXPIRE_SECONDS=...] .venv/bin/python \\
        harness/reference/cleartokens_at.py --now 2026-11-30T01:56:34.908906+00:00

The differential test runs this and oauthq with the same instant, so rows exactly at a cutoff are
compared too. Everything else (settings from the environment, stderr warning, exit status) is the
unmodified management command.
"""
import argparse
import datetime as dt
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    now = dt.datetime.fromisoformat(args.now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproject.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    timezone.now = lambda: now  # clear_expired() reads timezone.now() once
    call_command("cleartokens")


if __name__ == "__main__":
    main()
