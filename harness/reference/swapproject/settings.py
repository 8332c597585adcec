"""The swapped-models reference project: the plain reference project's settings, plus a custom user
model and all five of DOT's swappable models replaced by subclasses with an extra column each
(harness/reference/swapapp). Migrated by Django itself:

    DJANGO_SETTINGS_MODULE=swapproject.settings DATABASE_URL=... .venv/bin/python harness/reference/manage.py migrate

Tables (what oauthq is told through the same setting names):
  AUTH_USER_MODEL                       swapapp.Member        -> swapapp_member
  OAUTH2_PROVIDER_APPLICATION_MODEL     swapapp.Client        -> swapapp_client
  OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL    swapapp.Access        -> swapapp_access
  OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL   swapapp.Refresh       -> swapapp_refresh
  OAUTH2_PROVIDER_ID_TOKEN_MODEL        swapapp.Identity      -> swapapp_identity
  OAUTH2_PROVIDER_GRANT_MODEL           swapapp.Code          -> Meta.db_table "swap_codes" (oauthq: db_table:swap_codes)
"""
from refproject.settings import *  # noqa: F401,F403
from refproject.settings import INSTALLED_APPS

INSTALLED_APPS = INSTALLED_APPS + ["swapapp"]
AUTH_USER_MODEL = "swapapp.Member"
OAUTH2_PROVIDER_APPLICATION_MODEL = "swapapp.Client"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "swapapp.Access"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "swapapp.Refresh"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "swapapp.Identity"
OAUTH2_PROVIDER_GRANT_MODEL = "swapapp.Code"
