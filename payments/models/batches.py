"""Batches of payments: one request, up to 1,000 pending payments made in one transaction.

A batch is ``processing`` until its last payment is final, then ``completed`` (and
``batch.completed`` is recorded). Its counts are read from its payments, never kept twice;
``rejected`` keeps the items that never became payments, as the 202 answer listed them.
"""

from __future__ import annotations

from django.db import models

from payments.ids import new_public_id
from payments.models.merchants import Merchant, mode_field


def new_batch_id() -> str:
    return new_public_id("batch")


class PaymentBatch(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing"
        COMPLETED = "completed"

    id = models.CharField(primary_key=True, max_length=32, default=new_batch_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="batches")
    mode = mode_field()  # the key's that made it, and so of every payment in it
    # The merchant's name for the batch and its idempotency: the same reference (in one mode)
    # is the same batch.
    reference = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    total = models.PositiveIntegerField()
    accepted = models.PositiveIntegerField()
    rejected = models.JSONField(default=list)  # [{index, reference, error: {code, description, field, reason}}]
    callback_url = models.URLField(max_length=2048, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payment_batches"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "mode", "reference"], name="payment_batches_reference_unique"),
        ]

    def __str__(self) -> str:
        return self.id
