"""Runs one of DOT 3.4.1's own management commands, unmodified, with django.utils.timezone.now frozen at an
instant, so that oauthq and DOT can be compared on rows that sit exactly at a cutoff.

DJANGO_SETTINGS_MODULE selects the project (default: the plain reference project); settings come from the
environment as refproject/settings.py reads them.
"""
import datetime as dt
import os
import sys


def run_command_at(now_text, argv):
    """`manage.py ARGV...` with timezone.now() returning NOW_TEXT (ISO 8601; UTC when it has no offset)."""
    now = dt.datetime.fromisoformat(now_text)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproject.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line
    from django.utils import timezone

    timezone.now = lambda: now  # both commands read timezone.now() once
    execute_from_command_line(["manage.py"] + argv)
