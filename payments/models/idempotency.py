"""Idempotency keys: merchant-scoped, kept 24 h, claimed with insert-on-conflict."""

from __future__ import annotations

from django.db import models

from payments.models.merchants import Merchant


class IdempotencyKey(models.Model):
    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE)
    key = models.CharField(max_length=260)  # 255 + the live-mode prefix (services.idempotency)
    request_method = models.CharField(max_length=8)
    request_path = models.CharField(max_length=255)
    # Keyed hash (HMAC) of the canonical request body: bodies may carry card data.
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    locked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "idempotency_keys"
        constraints = [models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_per_merchant")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires")]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key}"
