"""Merchants (the tenant) and their API keys. Secrets are stored only as SHA-256 hashes.

Test and live are separate worlds, as at Stripe: every order, payment, refund and event
carries the ``mode`` of the key that made it (``mode_field``), and a key only ever sees its
own mode's objects. The authenticated merchant carries that mode as ``acting_mode``
(set by API key authentication); ``merchant_scope`` turns it into the lookup filter.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone


class Mode(models.TextChoices):
    TEST = "test"
    LIVE = "live"


def mode_field() -> models.CharField:
    """The ``mode`` column of a merchant object: set from the acting key on creation; the
    database default (test) only covers bulk inserts that predate modes (benches)."""
    return models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST, db_default=Mode.TEST)


class Merchant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "merchants"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    # The authenticated merchant is DRF's ``request.user`` for API-key requests.
    is_authenticated = True
    # The mode of the API key acting for this merchant in this request (set by
    # authentication, never stored). None: no key acts (staff, the dashboard, workers),
    # which see and act on both worlds.
    acting_mode: str | None = None


def merchant_scope(merchant: Merchant) -> dict[str, Any]:
    """The lookup that confines a query to ``merchant`` and, when a key acts for it, to that
    key's mode: another mode's object is as missing as another merchant's."""
    if merchant.acting_mode is None:
        return {"merchant": merchant}
    return {"merchant": merchant, "mode": merchant.acting_mode}


def creation_mode(merchant: Merchant) -> str:
    """The mode a new object made for ``merchant`` gets: the acting key's (test without one)."""
    return merchant.acting_mode or Mode.TEST


class ApiKey(models.Model):
    Mode = Mode

    key_id = models.CharField(max_length=64, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    # SHA-256 hex of the secret. Generated secrets carry 192 bits of entropy, so a slow
    # password hash adds latency to every request without adding safety.
    secret_hash = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_keys"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_revoked(self) -> bool:
        """Stopped working (a rolled key's ``revoked_at`` lies ahead until its overlap ends)."""
        return self.revoked_at is not None and self.revoked_at <= timezone.now()
