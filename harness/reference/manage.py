#!/usr/bin/env python
"""Reference Django project for oauthq tests: DOT's own management commands against any database.

Usage (inside the venv from scripts/python-env.sh):
    DATABASE_URL=postgres://postgres@127.0.0.1:5440/mydb .venv/bin/python harness/reference/manage.py migrate
    ... manage.py cleartokens | manage.py createapplication confidential authorization-code ...
Settings come from env vars; see refproject/settings.py.
"""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
