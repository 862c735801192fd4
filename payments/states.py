"""The state machines of payments and refunds: which moves are allowed, and from where.

Only :mod:`payments.services.transitions` applies them. Normal moves leave ``pending``;
*corrections* (failed → success, success → failed) exist only for reconciliation and staff,
because a provider notification must never move a payment backwards.
"""

from __future__ import annotations

from django.db import models


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class OrderStatus(models.TextChoices):
    CREATED = "created"
    ATTEMPTED = "attempted"
    PAID = "paid"


PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED}),
    PaymentStatus.SUCCESS: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
}
PAYMENT_CORRECTIONS: dict[str, frozenset[str]] = {
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCESS}),
    PaymentStatus.SUCCESS: frozenset({PaymentStatus.FAILED}),
}
PAYMENT_FINAL = frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED})

REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.PROCESSED, RefundStatus.FAILED}),
    RefundStatus.PROCESSED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

PAYMENT_EVENT_FOR_STATUS = {
    PaymentStatus.SUCCESS: "payment.success",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELLED: "payment.cancelled",
}
REFUND_EVENT_FOR_STATUS = {
    RefundStatus.PROCESSED: "refund.processed",
    RefundStatus.FAILED: "refund.failed",
}


def payment_sources_for(to_status: str, *, correction: bool = False) -> frozenset[str]:
    """The statuses a payment may move to ``to_status`` from."""
    table = dict(PAYMENT_TRANSITIONS)
    sources = {src for src, targets in table.items() if to_status in targets}
    if correction:
        sources |= {src for src, targets in PAYMENT_CORRECTIONS.items() if to_status in targets}
    return frozenset(sources)


def refund_sources_for(to_status: str) -> frozenset[str]:
    return frozenset(src for src, targets in REFUND_TRANSITIONS.items() if to_status in targets)


EVENT_TYPES = (
    "payment.created",
    "payment.pending",
    "payment.success",
    "payment.failed",
    "payment.cancelled",
    "payment.captured",
    "refund.created",
    "refund.processed",
    "refund.failed",
    "reconciliation.discrepancy",
    "reconciliation.completed",
    "webhook.test",
    "webhook_endpoint.disabled",
)
