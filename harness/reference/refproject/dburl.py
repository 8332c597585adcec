"""Parse a postgres:// URL into a Django DATABASES entry (no extra dependencies)."""
from urllib.parse import parse_qsl, unquote, urlsplit


def parse_database_url(url):
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL must be a postgres:// or postgresql:// URL")
    options = dict(parse_qsl(parts.query))
    host = unquote(parts.hostname or "") or options.pop("host", "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or "") or options.pop("user", ""),
        "PASSWORD": unquote(parts.password or "") or options.pop("password", ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }


def psycopg_conninfo(url):
    """Keyword arguments for psycopg.connect() from the same URL."""
    entry = parse_database_url(url)
    kwargs = {"dbname": entry["NAME"]}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if entry[key]:
            kwargs[name] = entry[key]
    kwargs.update(entry["OPTIONS"])
    return kwargs
