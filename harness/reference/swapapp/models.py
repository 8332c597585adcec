"""Swapped DOT models and a custom user model, each with one extra column of a kind a real project adds:
nullable, or NOT NULL with a database default (so a writer that does not know it can still insert)."""
from django.contrib.auth.models import AbstractUser
from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)


class Member(AbstractUser):
    employee_code = models.CharField(max_length=20, null=True, blank=True)


class Client(AbstractApplication):
    tenant = models.CharField(max_length=32, db_default="main")


class Access(AbstractAccessToken):
    tenant = models.CharField(max_length=32, null=True, blank=True)


class Refresh(AbstractRefreshToken):
    rotations = models.IntegerField(db_default=0)

    class Meta(AbstractRefreshToken.Meta):
        pass


class Identity(AbstractIDToken):
    acr = models.CharField(max_length=64, null=True, blank=True)


class Code(AbstractGrant):
    device = models.CharField(max_length=64, null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        db_table = "swap_codes"
