#!/usr/bin/env python
"""Print DOT's token tables as canonical JSON, so two databases can be compared byte for byte.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/dump_tables.py [--labels]

Output (one line, sorted keys, no spaces): for each table a sorted list of rows
  oauth2_provider_accesstoken:  [id, source_refresh_token_id, id_token_id]
  oauth2_provider_refreshtoken: [id, access_token_id, revoked IS NOT NULL]
  oauth2_provider_idtoken, oauth2_provider_grant, oauth2_provider_application,
  oauth2_provider_devicegrant:  [id]
With --labels each row ends with its label (token / token / scope / code / client_id / device_code),
e.g. "scenario:AT1" from seed.py, so survivors can be read by name.
"""
import argparse
import json
import os
import sys

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refproject.dburl import psycopg_conninfo  # noqa: E402

QUERIES = {
    "oauth2_provider_accesstoken": ("id, source_refresh_token_id, id_token_id", "token"),
    "oauth2_provider_refreshtoken": ("id, access_token_id, revoked IS NOT NULL", "token"),
    "oauth2_provider_idtoken": ("id", "scope"),
    "oauth2_provider_grant": ("id", "code"),
    "oauth2_provider_application": ("id", "client_id"),
    "oauth2_provider_devicegrant": ("id", "device_code"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--labels", action="store_true")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("DATABASE_URL or --database-url is required")
    result = {}
    with psycopg.connect(**psycopg_conninfo(args.database_url)) as conn, conn.cursor() as cur:
        for table, (columns, label) in QUERIES.items():
            select = columns + (f", {label}" if args.labels else "")
            cur.execute(f'SELECT {select} FROM "{table}" ORDER BY id')
            result[table] = [list(row) for row in cur.fetchall()]
    json.dump(result, sys.stdout, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
