#!/usr/bin/env python
"""Run DOT 3.4.1's own `manage.py clearcimdapplications` with django.utils.timezone.now frozen at --now.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/clearcimdapplications_at.py \\
        --now 2026-11-30T01:56:34.908906+00:00 [--batch-size N]

The differential test runs this and oauthq with the same instant, so rows exactly at `now` are
compared too. Everything else (output, errors, exit status) is the unmodified management command
(frozen_now.py).
"""
import argparse

from frozen_now import run_command_at

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    parser.add_argument("--batch-size", default=None)
    args = parser.parse_args()
    run_command_at(args.now, ["clearcimdapplications"] + (["--batch-size", args.batch_size] if args.batch_size is not None else []))
