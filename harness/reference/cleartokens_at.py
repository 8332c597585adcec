#!/usr/bin/env python
"""Run DOT 3.4.1's own `manage.py cleartokens` with django.utils.timezone.now frozen at --now.

    DATABASE_URL=postgres://... [REFRESH_TOKEN_EXPIRE_SECONDS=...] .venv/bin/python \\
        harness/reference/cleartokens_at.py --now 2026-11-30T01:56:34.908906+00:00

The differential test runs this and oauthq with the same instant, so rows exactly at a cutoff are
compared too. Everything else (settings from the environment, stderr warning, exit status) is the
unmodified management command (frozen_now.py).
"""
import argparse

from frozen_now import run_command_at

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    run_command_at(parser.parse_args().now, ["cleartokens"])
