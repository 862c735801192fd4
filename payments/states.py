"""The state machines of payments and refunds: which moves are allowed, and from where.

Only :mod:`payments.services.transitions` applies them. Normal moves leave ``pending``;
*corrections* (failed/cancelled → success or duplicate, success → failed) exist only for
reconciliation and staff, because a provider notification must never move a payment
backwards.

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


PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.DUPLICATE}
    ),
    PaymentStatus.SUCCESS: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.DUPLICATE: frozenset(),
}
# The provider settled a payment we hold as failed or cancelled: it was charged after all.
PAYMENT_CORRECTIONS: dict[str, frozenset[str]] = {
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCESS, PaymentStatus.DUPLICATE}),
    PaymentStatus.CANCELLED: frozenset({PaymentStatus.SUCCESS, PaymentStatus.DUPLICATE}),
    PaymentStatus.SUCCESS: frozenset({PaymentStatus.FAILED}),
}
PAYMENT_FINAL = frozenset(
    {PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.DUPLICATE}
)
# The provider took the money for these (a refund is possible); only ``success`` keeps it.
PAYMENT_CHARGED = frozenset({PaymentStatus.SUCCESS, PaymentStatus.DUPLICATE})

REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.PROCESSED, RefundStatus.FAILED}),
    RefundStatus.PROCESSED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

PAYMENT_EVENT_FOR_STATUS = {
    PaymentStatus.SUCCESS: "payment.success",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELLED: "payment.cancelled",
    PaymentStatus.DUPLICATE: "payment.duplicate",
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
