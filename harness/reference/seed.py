#!/usr/bin/env python
"""Fill DOT 3.4.1's token tables with plain SQL (psycopg COPY), for cleartokens tests and benchmarks.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/seed.py [--scenarios] [--count N]
        [--seed S] [--now 2026-11-30T01:56:34+00:00] [--batch-label NAME]

--scenarios  inserts the reference scenario (docs/dot-compatibility.md#the-reference-scenario). Each row is
             labelled "scenario:<NAME>" (NAME = AT1, RT5, IDT2, G1, ...) in accesstoken.token /
             refreshtoken.token / idtoken.scope / grant.code.
--count N    inserts N random token "units" (seeded RNG): each an access token with, in realistic
             proportions, a paired live refresh token, a revoked refresh token it was minted from
             (source_refresh_token_id), an orphaned refresh token, an ID token, a grant; expiry and
             revocation times spread around --now (expired, dormant, live, recently revoked).
Times are relative to --now (default: the current time). The schema must exist (manage.py migrate).
One auth_user and one application are created (or reused) as owners. Identity sequences are moved
past the inserted ids. Prints a JSON summary (scenario label -> id, row counts) on stdout.
"""
import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys
import uuid

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refproject.dburl import psycopg_conninfo  # noqa: E402

P = "oauth2_provider_"
# Table names by kind; --tables overrides them for a project with swapped models.
TABLES = {"accesstoken": P + "accesstoken", "refreshtoken": P + "refreshtoken", "idtoken": P + "idtoken",
          "grant": P + "grant", "application": P + "application", "user": "auth_user"}
AT_COLUMNS = ("id", "token", "expires", "scope", "application_id", "user_id", "created", "updated",
              "source_refresh_token_id", "id_token_id", "token_checksum", "resource")
RT_COLUMNS = ("id", "token", "access_token_id", "application_id", "user_id", "created", "updated",
              "revoked", "token_family", "token_checksum", "resource")
IDT_COLUMNS = ("id", "jti", "expires", "scope", "created", "updated", "application_id", "user_id")
GRANT_COLUMNS = ("id", "code", "expires", "redirect_uri", "scope", "application_id", "user_id", "created",
                 "updated", "code_challenge", "code_challenge_method", "nonce", "claims", "resource")


def checksum(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Rows:
    """Rows per table with ids allocated after the current maximum."""

    def __init__(self, cur, now, app_id, user_id):
        self.now, self.app_id, self.user_id = now, app_id, user_id
        self.next_id = {}
        for table in ("accesstoken", "refreshtoken", "idtoken", "grant"):
            cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{TABLES[table]}"')
            self.next_id[table] = cur.fetchone()[0] + 1
        self.at, self.rt, self.idt, self.grant = [], [], [], []

    def _id(self, table):
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def access_token(self, token, expires, source_rt=None, id_token=None):
        at_id = self._id("accesstoken")
        created = min(self.now, expires) - dt.timedelta(hours=1)
        self.at.append([at_id, token, expires, "read write", self.app_id, self.user_id, created, created,
                        source_rt, id_token, checksum(token), "[]"])
        return at_id

    def refresh_token(self, token, access_token=None, revoked=None):
        rt_id = self._id("refreshtoken")
        created = (revoked or self.now) - dt.timedelta(days=1)
        self.rt.append([rt_id, token, access_token, self.app_id, self.user_id, created, revoked or created,
                        revoked, None, checksum(token), "[]"])
        return rt_id

    def id_token(self, label, expires):
        idt_id = self._id("idtoken")
        created = min(self.now, expires) - dt.timedelta(hours=1)
        self.idt.append([idt_id, uuid.uuid4(), expires, label, created, created, self.app_id, self.user_id])
        return idt_id

    def grant_code(self, code, expires):
        grant_id = self._id("grant")
        created = expires - dt.timedelta(minutes=10)
        self.grant.append([grant_id, code, expires, "https://example.com/cb", "read", self.app_id, self.user_id,
                           created, created, "", "", "", "", "[]"])
        return grant_id

    def write(self, cur):
        for table, columns, rows in (("idtoken", IDT_COLUMNS, self.idt), ("refreshtoken", RT_COLUMNS, self.rt),
                                     ("accesstoken", AT_COLUMNS, self.at), ("grant", GRANT_COLUMNS, self.grant)):
            if rows:
                with cur.copy(f'COPY "{TABLES[table]}" ({", ".join(columns)}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{TABLES[table]}\"', 'id'), "
                        f'GREATEST((SELECT COALESCE(MAX(id), 0) FROM "{TABLES[table]}"), 1))')


def owners(cur, now):
    cur.execute(f"SELECT id FROM \"{TABLES['user']}\" WHERE username = 'oauthq-seed'")
    row = cur.fetchone()
    if row:
        user_id = row[0]
    else:
        cur.execute(f"INSERT INTO \"{TABLES['user']}\" (password, last_login, is_superuser, username, first_name, last_name,"
                    " email, is_staff, is_active, date_joined) VALUES ('!', NULL, false, 'oauthq-seed', '', '',"
                    " '', false, true, %s) RETURNING id", (now,))
        user_id = cur.fetchone()[0]
    cur.execute(f"SELECT id FROM \"{TABLES['application']}\" WHERE client_id = 'oauthq-seed-app'")
    row = cur.fetchone()
    if row:
        return user_id, row[0]
    cur.execute(f"INSERT INTO \"{TABLES['application']}\" (client_id, user_id, redirect_uris, post_logout_redirect_uris,"
                " client_type, authorization_grant_type, client_secret, hash_client_secret, name,"
                " skip_authorization, created, updated, algorithm, allowed_origins, registration_source,"
                " cimd_expires_at) VALUES ('oauthq-seed-app', %s, 'https://example.com/cb', '', 'confidential',"
                " 'authorization-code', 'seed-secret-plaintext', false, 'oauthq seed', false, %s, %s, '', '',"
                " 'manual', NULL) RETURNING id", (user_id, now, now))
    return user_id, cur.fetchone()[0]


def scenarios(rows):
    """The reference scenario (docs/dot-compatibility.md#the-reference-scenario): returns label -> id."""
    now, day, hour = rows.now, dt.timedelta(days=1), dt.timedelta(hours=1)
    ids = {}
    ids["AT1"] = rows.access_token("scenario:AT1", now - 10 * day)
    ids["RT1"] = rows.refresh_token("scenario:RT1", access_token=ids["AT1"])
    ids["IDT2"] = rows.id_token("scenario:IDT2", now - hour)
    ids["AT2"] = rows.access_token("scenario:AT2", now - hour, id_token=ids["IDT2"])
    ids["RT2"] = rows.refresh_token("scenario:RT2", access_token=ids["AT2"])
    ids["AT3"] = rows.access_token("scenario:AT3", now + hour)
    ids["IDT1"] = rows.id_token("scenario:IDT1", now - day)
    ids["AT4"] = rows.access_token("scenario:AT4", now - day, id_token=ids["IDT1"])
    ids["RT5"] = rows.refresh_token("scenario:RT5", revoked=now - 2 * day)
    ids["AT8"] = rows.access_token("scenario:AT8", now + hour, source_rt=ids["RT5"])
    ids["RT6"] = rows.refresh_token("scenario:RT6", revoked=now - dt.timedelta(seconds=5))
    ids["RT7"] = rows.refresh_token("scenario:RT7")
    ids["AT9"] = rows.access_token("scenario:AT9", now + hour)
    ids["RT9"] = rows.refresh_token("scenario:RT9", access_token=ids["AT9"])
    ids["IDT3"] = rows.id_token("scenario:IDT3", now + hour)
    ids["IDT4"] = rows.id_token("scenario:IDT4", now - hour)
    ids["G1"] = rows.grant_code("scenario:G1", now - hour)
    ids["G2"] = rows.grant_code("scenario:G2", now + dt.timedelta(minutes=10))
    return ids


def boundaries(rows):
    """Rows exactly at each cutoff (run cleartokens with the same --now): they pin the operators,
    `<=` for revoked and idle-expired refresh tokens, strict `<` for access/ID tokens and grants.
    Cutoffs covered: now, now - 3600 s (GRACE=3600) and now - 86400 s (EXPIRE=86400)."""
    now, ids = rows.now, {}
    for name, delta in (("now", 0), ("grace", 3600), ("expire", 86400)):
        at = now - dt.timedelta(seconds=delta)
        ids[f"RTrev@{name}"] = rows.refresh_token(f"boundary:RTrev@{name}", revoked=at)
        ids[f"AT@{name}"] = rows.access_token(f"boundary:AT@{name}", at)
        ids[f"RTlive@{name}"] = rows.refresh_token(f"boundary:RTlive@{name}", access_token=ids[f"AT@{name}"])
        ids[f"ATfree@{name}"] = rows.access_token(f"boundary:ATfree@{name}", at)
        ids[f"IDT@{name}"] = rows.id_token(f"boundary:IDT@{name}", at)
        ids[f"G@{name}"] = rows.grant_code(f"boundary:G@{name}", at)
    return ids


def random_mix(rows, count, rng, tag):
    now = rows.now

    def around(back_seconds, ahead_seconds):
        return now + dt.timedelta(seconds=rng.uniform(-back_seconds, ahead_seconds))

    for n in range(count):
        prefix = f"mix:{tag}:{n}"
        # Access token lifetime 10 h; about 45% already expired, up to 30 days ago (dormant chains).
        expires = around(30 * 86400, 10 * 3600) if rng.random() < 0.45 else around(0, 10 * 3600)
        source = None
        if rng.random() < 0.3:  # minted from a refresh token that rotation revoked
            source = rows.refresh_token(f"{prefix}:rt-revoked", revoked=around(10 * 86400, 0))
        id_token = rows.id_token(f"{prefix}:idt", expires) if rng.random() < 0.35 else None
        if rng.random() < 0.1:  # source RT already deleted by an earlier run
            source = None
        at_id = rows.access_token(f"{prefix}:at", expires, source_rt=source, id_token=id_token)
        if rng.random() < 0.7:
            rows.refresh_token(f"{prefix}:rt", access_token=at_id)
        if rng.random() < 0.08:  # orphan: its access token was deleted without revoking it
            rows.refresh_token(f"{prefix}:rt-orphan")
        if rng.random() < 0.05:  # revoked without ever being used to mint (e.g. logout)
            rows.refresh_token(f"{prefix}:rt-logout", revoked=around(5 * 86400, 0))
        if rng.random() < 0.05:
            rows.id_token(f"{prefix}:idt-loose", around(2 * 86400, 3600))
        if rng.random() < 0.2:
            rows.grant_code(f"{prefix}:g", around(86400, 600))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--scenarios", action="store_true", help="insert the section 2.7 rows")
    parser.add_argument("--boundaries", action="store_true", help="insert rows exactly at each cutoff")
    parser.add_argument("--count", type=int, default=0, help="random token units to insert")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", help="ISO 8601 instant; default: current time")
    parser.add_argument("--batch-label", default=None, help="label for random rows (default: the seed)")
    parser.add_argument("--tables", default="{}", help="JSON object: kind -> table name (swapped models)")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("DATABASE_URL or --database-url is required")
    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    TABLES.update(json.loads(args.tables))
    rng = random.Random(args.seed)
    with psycopg.connect(**psycopg_conninfo(args.database_url)) as conn, conn.cursor() as cur:
        user_id, app_id = owners(cur, now)
        rows = Rows(cur, now, app_id, user_id)
        labels = scenarios(rows) if args.scenarios else {}
        if args.boundaries:
            labels.update(boundaries(rows))
        random_mix(rows, args.count, rng, args.batch_label or str(args.seed))
        rows.write(cur)
    summary = {"now": now.isoformat(), "user_id": user_id, "application_id": app_id, "scenarios": labels,
               "inserted": {"accesstoken": len(rows.at), "refreshtoken": len(rows.rt),
                            "idtoken": len(rows.idt), "grant": len(rows.grant)}}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
