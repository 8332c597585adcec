"""Minimal settings: auth, contenttypes and oauth2_provider on PostgreSQL from DATABASE_URL.

OAUTH2_PROVIDER entries are set only when their environment variable is set, using DOT's names:
  REFRESH_TOKEN_EXPIRE_SECONDS, REFRESH_TOKEN_GRACE_PERIOD_SECONDS   (int or float seconds)
  REFRESH_TOKEN_REUSE_PROTECTION                                     (true/false/1/0)
  CLEAR_EXPIRED_TOKENS_BATCH_SIZE, CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL
  ALLOWED_REDIRECT_URI_SCHEMES                                       (comma- or space-separated)
  OIDC_RSA_PRIVATE_KEY                                               (PEM text, or @/path/to/key.pem)
A value that does not parse as a number is passed through as a string, so DOT's own
ImproperlyConfigured checks can be exercised. LOG_LEVEL=INFO/DEBUG shows the
oauth2_provider.models log lines on stderr.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dburl import parse_database_url  # noqa: E402

SECRET_KEY = "oauthq-reference-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
]
MIDDLEWARE = []
ROOT_URLCONF = "refproject.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": parse_database_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5440/oauthq"))
}


def _number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _bool(text):
    return text.strip().lower() in ("1", "true", "yes", "on")


def _list(text):
    return [item for item in text.replace(",", " ").split() if item]


def _key(text):
    if text.startswith("@"):
        with open(text[1:]) as handle:
            return handle.read()
    return text


_CONVERTERS = {
    "REFRESH_TOKEN_EXPIRE_SECONDS": _number,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": _number,
    "REFRESH_TOKEN_REUSE_PROTECTION": _bool,
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": _number,
    "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": _number,
    "ALLOWED_REDIRECT_URI_SCHEMES": _list,
    "OIDC_RSA_PRIVATE_KEY": _key,
}
OAUTH2_PROVIDER = {name: convert(os.environ[name]) for name, convert in _CONVERTERS.items() if name in os.environ}

_log_level = os.environ.get("LOG_LEVEL")
if _log_level:
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "loggers": {"oauth2_provider": {"handlers": ["stderr"], "level": _log_level}},
    }
