"""The statuses of payments, refunds and orders, and the event types Tender sends.

Which moves between them are allowed, and what each announces, is the transition tables of
:mod:`payments.services.transitions` (the one module that changes a status). Normal moves
leave ``pending``; *corrections* (failed/cancelled → success or duplicate, success → failed)
exist only for reconciliation and staff, because a provider notification must never move a
payment backwards.

``duplicate`` is a payment the provider charged for an order another payment had already
paid: the money moved, the order keeps only the first payment's money, and this one is
refunded in full automatically (reason ``duplicate_payment``). It is neither a second sale
(``success``: at most one per order, a database constraint) nor a failure (no money moved).
"""

from __future__ import annotations

from django.db import models


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class OrderStatus(models.TextChoices):
    CREATED = "created"
    ATTEMPTED = "attempted"
    PAID = "paid"


# Statuses no provider report moves a payment out of (only corrections do).
PAYMENT_FINAL = frozenset(
    {PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.DUPLICATE}
)
# The provider took the money for these (a refund is possible); only ``success`` keeps it.
PAYMENT_CHARGED = frozenset({PaymentStatus.SUCCESS, PaymentStatus.DUPLICATE})

# Every event type Tender sends (webhooks, streams, the events API). The lifecycle events
# among them are the ones payments.services.transitions' tables announce (a test checks).
EVENT_TYPES = (
    "payment.created",
    "payment.pending",
    "payment.success",
    "payment.failed",
    "payment.cancelled",
    "payment.duplicate",
    "payment.captured",
    "refund.created",
    "refund.processed",
    "refund.failed",
    "batch.completed",
    "reconciliation.discrepancy",
    "reconciliation.completed",
    "webhook.test",
    "webhook_endpoint.disabled",
    "event_destination.failing",
)
