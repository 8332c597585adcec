#!/usr/bin/env python
"""Seed applications and tokens for the clearcimdapplications differential tests.

    DATABASE_URL=postgres://... .venv/bin/python harness/reference/seed_cimd.py --now ISO [--scenarios]
        [--count N] [--seed S] [--tables '{"application": "...", ...}']

--scenarios inserts named applications (client_id "scenario:<label>") whose fate is known:
  deleted  -- expired CIMD, nothing live (no tokens; dead tokens of each kind; revoked refresh
              token; access token expiring exactly at now)
  kept     -- expired CIMD with one live token of each kind (access, ID, grant: expires > now;
              refresh: revoked IS NULL), CIMD refreshed into the future, CIMD with no expiry, CIMD
              expiring exactly at now, manual and DCR applications with a past cimd_expires_at
  plus cross-application links: an access token of a kept application minted from a refresh token of
  a deleted one (Django's SET NULL), a refresh token of a kept application naming an access token of
  a deleted one (SET NULL), and an access token of a kept application naming an ID token of a deleted
  one (Django's CASCADE from the ID token).
--count adds N random applications (mostly CIMD, around `now`) with random tokens and cross links,
so batch boundaries fall everywhere. Prints a JSON summary (label -> application id) on stdout.
Tables default to DOT's; --tables names swapped ones (extra columns must have database defaults).
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
from psycopg import sql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refproject.dburl import psycopg_conninfo  # noqa: E402

DEFAULT_TABLES = {
    "application": "oauth2_provider_application",
    "accesstoken": "oauth2_provider_accesstoken",
    "refreshtoken": "oauth2_provider_refreshtoken",
    "idtoken": "oauth2_provider_idtoken",
    "grant": "oauth2_provider_grant",
    "user": "auth_user",
}


class Seeder:
    def __init__(self, cur, tables, now, user_id):
        self.cur, self.t, self.now, self.user_id = cur, tables, now, user_id
        self.serial = 0

    def _insert(self, table, values):
        columns = list(values)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier(self.t[table]),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        self.cur.execute(query, [values[c] for c in columns])
        return self.cur.fetchone()[0]

    def _label(self, prefix):
        self.serial += 1
        return f"{prefix}:{self.serial}"

    def application(self, client_id, source="cimd", cimd_expires_at=None):
        now = self.now
        return self._insert("application", {
            "client_id": client_id, "user_id": self.user_id, "redirect_uris": "https://example.com/cb",
            "post_logout_redirect_uris": "", "client_type": "public", "authorization_grant_type": "authorization-code",
            "client_secret": "", "hash_client_secret": False, "name": client_id[:255], "skip_authorization": False,
            "created": now, "updated": now, "algorithm": "", "allowed_origins": "",
            "registration_source": source, "cimd_expires_at": cimd_expires_at,
        })

    def access_token(self, app_id, expires, source_rt=None, id_token=None):
        token = self._label("at")
        return self._insert("accesstoken", {
            "token": token, "expires": expires, "scope": "read", "application_id": app_id, "user_id": self.user_id,
            "created": self.now, "updated": self.now, "source_refresh_token_id": source_rt, "id_token_id": id_token,
            "token_checksum": hashlib.sha256(token.encode()).hexdigest(), "resource": "[]",
        })

    def refresh_token(self, app_id, access_token=None, revoked=None):
        token = self._label("rt")
        return self._insert("refreshtoken", {
            "token": token, "access_token_id": access_token, "application_id": app_id, "user_id": self.user_id,
            "created": self.now, "updated": self.now, "revoked": revoked, "token_family": None,
            "token_checksum": hashlib.sha256(token.encode()).hexdigest(), "resource": "[]",
        })

    def id_token(self, app_id, expires):
        return self._insert("idtoken", {
            "jti": uuid.uuid4(), "expires": expires, "scope": self._label("idt"), "created": self.now,
            "updated": self.now, "application_id": app_id, "user_id": self.user_id,
        })

    def grant(self, app_id, expires):
        return self._insert("grant", {
            "code": self._label("g"), "expires": expires, "redirect_uri": "https://example.com/cb", "scope": "read",
            "application_id": app_id, "user_id": self.user_id, "created": self.now, "updated": self.now,
            "code_challenge": "", "code_challenge_method": "", "nonce": "", "claims": "", "resource": "[]",
        })


def owner(cur, tables, now):
    cur.execute(sql.SQL("SELECT id FROM {} WHERE username = 'oauthq-cimd'").format(sql.Identifier(tables["user"])))
    row = cur.fetchone()
    if row:
        return row[0]
    cur.execute(sql.SQL("INSERT INTO {} (password, last_login, is_superuser, username, first_name, last_name, email,"
                        " is_staff, is_active, date_joined) VALUES ('!', NULL, false, 'oauthq-cimd', '', '', '',"
                        " false, true, %s) RETURNING id").format(sql.Identifier(tables["user"])), (now,))
    return cur.fetchone()[0]


def scenarios(s):
    now, day, hour = s.now, dt.timedelta(days=1), dt.timedelta(hours=1)
    past, future = now - day, now + hour
    ids = {}

    def app(label, **kwargs):
        ids[label] = s.application(f"scenario:{label}", **kwargs)
        return ids[label]

    app("deleted-bare", cimd_expires_at=past)
    a = app("deleted-dead-tokens", cimd_expires_at=past)
    idt = s.id_token(a, now - hour)
    at = s.access_token(a, now - hour, id_token=idt)
    s.refresh_token(a, access_token=at, revoked=now - hour)
    s.grant(a, now - hour)
    a = app("deleted-revoked-refresh", cimd_expires_at=now - dt.timedelta(seconds=1))
    s.refresh_token(a, revoked=now - 2 * day)
    a = app("deleted-at-expires-now", cimd_expires_at=past)
    s.access_token(a, now)
    s.id_token(a, now)
    s.grant(a, now)
    a = app("kept-live-access", cimd_expires_at=past)
    s.access_token(a, future)
    a = app("kept-live-id", cimd_expires_at=past)
    s.id_token(a, future)
    a = app("kept-live-grant", cimd_expires_at=past)
    s.grant(a, future)
    a = app("kept-unrevoked-refresh", cimd_expires_at=past)
    s.refresh_token(a, access_token=s.access_token(a, now - 10 * day))
    a = app("kept-refreshed", cimd_expires_at=now + 30 * day)
    s.access_token(a, now - day)
    app("kept-no-expiry", cimd_expires_at=None)
    app("kept-expires-now", cimd_expires_at=now)
    app("kept-manual", source="manual", cimd_expires_at=past)
    app("kept-dcr", source="dcr", cimd_expires_at=past)
    # Cross-application links from kept applications to rows of deleted ones.
    gone = app("deleted-linked", cimd_expires_at=past)
    keeper = app("kept-linked", cimd_expires_at=None)
    spent = s.refresh_token(gone, revoked=now - hour)
    s.access_token(keeper, future, source_rt=spent)  # SET NULL
    dead_at = s.access_token(gone, now - hour)
    s.refresh_token(keeper, access_token=dead_at)  # SET NULL
    gone_idt = s.id_token(gone, now - hour)
    s.access_token(keeper, future, id_token=gone_idt)  # CASCADE: deleted with the ID token
    return ids


def random_mix(s, count, rng):
    now = s.now

    def around(back, ahead):
        return now + dt.timedelta(seconds=rng.uniform(-back, ahead))

    apps, access, refresh, idtokens = [], [], [], []
    used_rt, used_idt, used_at = set(), set(), set()
    for n in range(count):
        roll = rng.random()
        source = "cimd" if roll < 0.8 else ("manual" if roll < 0.9 else "dcr")
        expiry = rng.random()
        if expiry < 0.6:
            cimd_expires_at = around(30 * 86400, 0)
        elif expiry < 0.8:
            cimd_expires_at = around(0, 30 * 86400)
        elif expiry < 0.9:
            cimd_expires_at = None
        else:
            cimd_expires_at = now
        app_id = s.application(f"mix:{n}", source=source, cimd_expires_at=cimd_expires_at)
        apps.append(app_id)

        def when():
            r = rng.random()
            return now if r < 0.1 else (around(10 * 86400, 0) if r < 0.75 else around(0, 3600))

        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            idt = s.id_token(app_id, when()) if rng.random() < 0.3 else None
            if idt is None and idtokens and rng.random() < 0.1:  # another application's free ID token
                candidate = rng.choice(idtokens)
                idt = candidate if candidate not in used_idt else None
            source_rt = None
            if refresh and rng.random() < 0.2:
                candidate = rng.choice(refresh)
                source_rt = candidate if candidate not in used_rt else None
            at = s.access_token(app_id, when(), source_rt=source_rt, id_token=idt)
            access.append(at)
            for used, value in ((used_rt, source_rt), (used_idt, idt)):
                if value is not None:
                    used.add(value)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            linked = None
            if access and rng.random() < 0.5:
                candidate = rng.choice(access[-6:])  # mostly this or a nearby application's
                linked = candidate if candidate not in used_at else None
            revoked = around(10 * 86400, 0) if rng.random() < 0.5 else None
            rt = s.refresh_token(app_id, access_token=linked, revoked=revoked)
            refresh.append(rt)
            if linked is not None:
                used_at.add(linked)
        for _ in range(rng.choice((0, 0, 0, 1))):
            idtokens.append(s.id_token(app_id, when()))
        for _ in range(rng.choice((0, 0, 0, 1))):
            s.grant(app_id, when())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--scenarios", action="store_true")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", required=True)
    parser.add_argument("--tables", default="{}", help="JSON object: kind -> table name")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("DATABASE_URL or --database-url is required")
    now = dt.datetime.fromisoformat(args.now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    tables = dict(DEFAULT_TABLES, **json.loads(args.tables))
    with psycopg.connect(**psycopg_conninfo(args.database_url)) as conn, conn.cursor() as cur:
        seeder = Seeder(cur, tables, now, owner(cur, tables, now))
        labels = scenarios(seeder) if args.scenarios else {}
        random_mix(seeder, args.count, random.Random(args.seed))
    print(json.dumps({"scenarios": labels}, sort_keys=True))


if __name__ == "__main__":
    main()
