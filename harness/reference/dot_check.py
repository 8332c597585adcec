#!/usr/bin/env python
"""Load an Application through DOT and check a plaintext secret the way DOT does.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/dot_check.py <application id> <secret>
    (or pass the secret on stdin with "-" to keep it out of the process list)

Prints {"check_password": bool, "full_clean": "ok" | {field: [messages]}}: check_password is DOT's own
OAuth2Validator._check_secret(secret, application.client_secret) (Django check_password for hashed
values, constant-time comparison otherwise), full_clean is Application.full_clean() on the stored row.
Exit 2 when the application does not exist.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproject.settings")
    import django

    django.setup()
    from django.core.exceptions import ValidationError

    from oauth2_provider.models import get_application_model
    from oauth2_provider.oauth2_validators import OAuth2Validator

    secret = sys.stdin.read().rstrip("\n") if sys.argv[2] == "-" else sys.argv[2]
    Application = get_application_model()
    try:
        application = Application.objects.get(pk=int(sys.argv[1]))
    except Application.DoesNotExist:
        sys.stderr.write("no such application\n")
        sys.exit(2)
    check = OAuth2Validator()._check_secret(secret, application.client_secret)
    try:
        application.full_clean()
        clean = "ok"
    except ValidationError as exc:
        clean = exc.message_dict
    print(json.dumps({"check_password": bool(check), "full_clean": clean}, sort_keys=True))


if __name__ == "__main__":
    main()
