"""Refunds: full or partial, of charged payments only (``success``, or ``duplicate``, whose
automatic refund comes from :mod:`payments.services.charges`), never above what is left.

The payment row is locked (``SELECT … FOR UPDATE``) while the already-refunded sum is
read and the refund inserted, so two concurrent refunds cannot both pass the check.
The worker's provider call runs outside any transaction, between a claim and a record step.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from common.errors import InvalidInput, NotFound
from payments.models import Merchant, Payment, Refund
from payments.providers import get_provider
from payments.services.submission import submission_claim
from payments.services.transitions import REFUND, change_build, changes_write, payment_lock
from payments.states import PAYMENT_CHARGED, RefundStatus
from payments.validation import validate_amount, validate_reason

logger = logging.getLogger("tender.refunds")


def _committed_refunds(payment_id: str) -> int:
    """Minor units already promised back: pending and processed refunds of the payment."""
    committed = Refund.objects.filter(
        payment_id=payment_id, status__in=[RefundStatus.PENDING, RefundStatus.PROCESSED]
    ).aggregate(total=Sum("amount"))["total"]
    return committed or 0


def payment_refundable_amount(*, payment_id: str) -> int:
    """What is left to refund of a payment: its amount minus pending and processed refunds
    (0 for a payment that was not charged). Under the payment's row lock it is exact."""
    payment = Payment.objects.filter(pk=payment_id).values_list("amount", "status").first()
    if payment is None or payment[1] not in PAYMENT_CHARGED:
        return 0
    return payment[0] - _committed_refunds(payment_id)


def refund_create(
    *, merchant: Merchant, payment_id: str, amount: int, reason: str | None = None, source: str = "api"
) -> Refund:
    """Create a ``pending`` refund with its ``refund.created`` event; the outbox queues
    it for the provider (services/submission.py).

    Raises ``NotFound`` (unknown or another merchant's payment), ``InvalidInput`` with
    ``payment_not_refundable`` (not ``success``/``duplicate``) or ``refund_exceeds_available``
    (pending + processed + this > payment amount)."""
    amount = validate_amount(amount, minimum=1)
    reason = validate_reason(reason)
    with transaction.atomic():
        payment = payment_lock(payment_id=payment_id, merchant=merchant)
        if payment is None:
            raise NotFound("Payment not found", field="payment_id")
        if payment.status not in PAYMENT_CHARGED:
            raise InvalidInput(
                f"Only successful payments can be refunded (status is {payment.status})",
                reason="payment_not_refundable",
            )
        available = payment.amount - _committed_refunds(payment.pk)
        if amount > available:
            raise InvalidInput(
                f"Refund amount exceeds the refundable amount ({available})",
                field="amount",
                reason="refund_exceeds_available",
            )
        now = timezone.now()
        refund = Refund(
            merchant=merchant,
            mode=payment.mode,
            payment=payment,
            amount=amount,
            reason=reason,
            status=RefundStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        # The refund, its timeline row and its refund.created event: one statement.
        change = change_build(
            lifecycle=REFUND, obj=refund, from_status=None, detail="Refund created", source=source, now=now
        )
        changes_write([change], before=[refund])
    return refund


def refund_process(*, refund_id: str) -> Refund | None:
    """Worker step: hand a pending refund to the provider once. Call it outside any
    transaction; the outcome arrives by provider webhook or status polling.

    Claim (autocommit ``UPDATE … RETURNING`` of ``submission_claimed_at``: pending, no
    ``provider_reference``, no live claim; else return ``None``), then ``provider.refund``
    with no transaction open (idempotent per refund id; on error our claim is cleared and
    the error propagates), then one ``UPDATE`` that stores ``provider_reference`` unless the
    refund already has one and clears the claim. A refund whose notification was applied
    before that (already ``processed``) keeps its status; only the reference is filled in."""
    refund = submission_claim(Refund, object_id=refund_id, unsent_column="provider_reference")
    if refund is None:
        return None
    claimed_at = refund.submission_claimed_at
    try:
        payment = Payment.objects.get(pk=refund.payment_id)
        result = get_provider(payment.provider).refund(refund=refund, payment=payment)
    except Exception:
        # Only our own claim (see payment_process): a newer one belongs to a live worker.
        Refund.objects.filter(pk=refund_id, submission_claimed_at=claimed_at).update(submission_claimed_at=None)
        raise
    Refund.objects.filter(pk=refund_id).update(
        provider_reference=Coalesce(F("provider_reference"), Value(result.reference)), submission_claimed_at=None
    )
    refund.refresh_from_db()
    return refund
