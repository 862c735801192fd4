"""Merchants (the tenant) and their API keys. Secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import uuid

from django.db import models


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


class ApiKey(models.Model):
    class Mode(models.TextChoices):
        TEST = "test"
        LIVE = "live"

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
        return self.revoked_at is not None
