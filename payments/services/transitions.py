"""The single place where payments and refunds change state.

Each move is a compare-and-set in PostgreSQL (``UPDATE … WHERE status IN (allowed sources)``),
bumps ``version``, appends a timeline row and records the outbox event, all in one
transaction. A move that lost its race (or is not allowed) changes nothing and reports so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from payments.models import Payment, Refund, TimelineEntry
from payments.outbox import event_record
from payments.snapshots import payment_snapshot, refund_snapshot
from payments.states import (
    PAYMENT_EVENT_FOR_STATUS,
    REFUND_EVENT_FOR_STATUS,
    PaymentStatus,
    RefundStatus,
    payment_sources_for,
    refund_sources_for,
)


@dataclass(frozen=True)
class TransitionResult:
    changed: bool
    obj: Any  # the Payment or Refund as it is now


def payment_record_event(
    *, payment: Payment, event_type: str, from_status: str | None, detail: str, source: str
) -> None:
    """Timeline row + outbox event for the payment's current version (inside a transaction)."""
    TimelineEntry.objects.create(
        object_type="payment",
        object_id=payment.id,
        payment_id=payment.id,
        from_status=from_status,
        to_status=payment.status,
        version=payment.version,
        detail=detail,
        source=source,
    )
    event_record(
        merchant_id=payment.merchant_id,
        mode=payment.mode,
        type=event_type,
        object_type="payment",
        object_id=payment.id,
        version=payment.version,
        data={"payment": payment_snapshot(payment)},
    )


def payment_transition(
    *,
    payment_id: str,
    to_status: str,
    source: str,
    detail: str = "",
    error_code: str | None = None,
    error_description: str | None = None,
    provider_reference: str | None = None,
    correction: bool = False,
) -> TransitionResult:
    """Move a payment to ``to_status`` if the state machine allows it from its current
    status. ``correction=True`` (reconciliation, staff) also allows failed ↔ success."""
    sources = payment_sources_for(to_status, correction=correction)
    updates: dict[str, Any] = {
        "status": to_status,
        "version": F("version") + 1,
        "updated_at": timezone.now(),
    }
    if to_status == PaymentStatus.SUCCESS:
        updates.update(error_code=None, error_description=None)
    elif error_code is not None or error_description is not None:
        updates.update(error_code=error_code, error_description=error_description)
    if provider_reference is not None:
        updates["provider_reference"] = provider_reference
    with transaction.atomic():
        current = Payment.objects.select_for_update().get(pk=payment_id)
        if current.status not in sources:
            return TransitionResult(changed=False, obj=current)
        from_status = current.status
        Payment.objects.filter(pk=payment_id, status=from_status).update(**updates)
        payment = Payment.objects.get(pk=payment_id)
        payment_record_event(
            payment=payment,
            event_type=PAYMENT_EVENT_FOR_STATUS[to_status],
            from_status=from_status,
            detail=detail,
            source=source,
        )
        if PaymentStatus.SUCCESS in (from_status, to_status):
            from payments.models import Order
            from payments.states import OrderStatus

            # A correction away from success (reconciliation, staff) unpays the order: it had
            # only this successful payment (a constraint), and the customer may pay again.
            paid = to_status == PaymentStatus.SUCCESS
            Order.objects.filter(pk=payment.order_id).update(
                status=OrderStatus.PAID if paid else OrderStatus.ATTEMPTED, updated_at=timezone.now()
            )
    return TransitionResult(changed=True, obj=payment)


def refund_transition(
    *,
    refund_id: str,
    to_status: str,
    source: str,
    detail: str = "",
    error_code: str | None = None,
    error_description: str | None = None,
    provider_reference: str | None = None,
) -> TransitionResult:
    """Move a refund to ``processed`` or ``failed`` (from ``pending`` only)."""
    sources = refund_sources_for(to_status)
    now = timezone.now()
    updates: dict[str, Any] = {"status": to_status, "version": F("version") + 1, "updated_at": now}
    if to_status == RefundStatus.PROCESSED:
        updates["processed_at"] = now
    if error_code is not None or error_description is not None:
        updates.update(error_code=error_code, error_description=error_description)
    if provider_reference is not None:
        updates["provider_reference"] = provider_reference
    with transaction.atomic():
        updated = Refund.objects.filter(pk=refund_id, status__in=sources).update(**updates)
        refund = Refund.objects.get(pk=refund_id)
        if not updated:
            return TransitionResult(changed=False, obj=refund)
        TimelineEntry.objects.create(
            object_type="refund",
            object_id=refund.id,
            payment_id=refund.payment_id,
            from_status=RefundStatus.PENDING,
            to_status=refund.status,
            version=refund.version,
            detail=detail,
            source=source,
        )
        event_record(
            merchant_id=refund.merchant_id,
            mode=refund.mode,
            type=REFUND_EVENT_FOR_STATUS[to_status],
            object_type="refund",
            object_id=refund.id,
            version=refund.version,
            data={"refund": refund_snapshot(refund)},
        )
    return TransitionResult(changed=True, obj=refund)
