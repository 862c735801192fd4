"""Applying what a provider tells us: inbound webhooks and status-poll answers.

Both paths end in :func:`provider_outcome_apply`, which only ever moves ``pending`` to a
final state through the state machine (compare-and-set), so a duplicate, late or stale
report changes nothing and no timeline steps backwards. A success is a charge and is
recorded by :func:`payments.services.charges.payment_charge_record`: on an order another
payment already paid it becomes ``duplicate`` and is refunded automatically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction

from payments.models import Payment, ProviderNotification, Refund
from payments.providers import get_provider
from payments.services.charges import payment_charge_record
from payments.services.transitions import payment_transition, refund_transition
from payments.states import PaymentStatus, RefundStatus

logger = logging.getLogger("tender.provider")

Result = ProviderNotification.Result

_INSERT_SQL = """
INSERT INTO provider_notifications
    (provider, event_id, object_type, object_id, status, payload, raw_body, received_at, result, detail)
VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, now(), %s, %s)
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class ReceiveOutcome:
    duplicate: bool
    result: str
    detail: str


def provider_outcome_apply(
    *,
    object_type: str,
    object_id: str,
    status: str,
    source: str,
    error_code: str | None = None,
    error_description: str | None = None,
) -> tuple[str, str]:
    """Apply a provider-reported status; returns ``(result, detail)``. Never raises for
    stale or unknown reports. ``pending`` is a no-op by definition (never backwards)."""
    if object_type == "payment":
        if status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            return Result.IGNORED, f"non-final status {status!r}"
        if not Payment.objects.filter(pk=object_id).exists():
            return Result.UNKNOWN_OBJECT, "no such payment"
        if status == PaymentStatus.SUCCESS:
            # Charged: success, or duplicate + automatic refund when the order is already paid.
            moved = payment_charge_record(payment_id=object_id, source=source, detail="Provider reported success")
        else:
            moved = payment_transition(
                payment_id=object_id,
                to_status=status,
                source=source,
                detail=f"Provider reported {status}",
                error_code=error_code,
                error_description=error_description,
            )
        if moved.changed and moved.obj.status == PaymentStatus.DUPLICATE:
            return Result.CONFLICT, "order already paid: recorded duplicate, refunded automatically"
        if not moved.changed:
            return Result.IGNORED, f"payment already {moved.obj.status}"
        return Result.APPLIED, f"payment {status}"
    if object_type == "refund":
        if status not in (RefundStatus.PROCESSED, RefundStatus.FAILED):
            return Result.IGNORED, f"non-final status {status!r}"
        if not Refund.objects.filter(pk=object_id).exists():
            return Result.UNKNOWN_OBJECT, "no such refund"
        moved = refund_transition(
            refund_id=object_id,
            to_status=status,
            source=source,
            detail=f"Provider reported {status}",
            error_code=error_code,
            error_description=error_description,
        )
        if not moved.changed:
            return Result.IGNORED, f"refund already {moved.obj.status}"
        return Result.APPLIED, f"refund {status}"
    return Result.UNKNOWN_OBJECT, f"unknown object type {object_type!r}"


def provider_notification_receive(*, provider_name: str, headers: Mapping[str, str], body: bytes) -> ReceiveOutcome:
    """Verify (raises ``InvalidSignature``), store raw, deduplicate by the provider's
    event id and apply, all in one transaction: a crash leaves neither half."""
    provider = get_provider(provider_name)
    notification = provider.verify_webhook(headers, body)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SQL,
                [
                    provider_name,
                    notification.event_id[:128],
                    notification.object_type[:16],
                    notification.object_id[:64],
                    notification.status[:16],
                    json.dumps(notification.payload),
                    body.decode("utf-8", errors="replace"),
                    Result.IGNORED,
                    "",
                ],
            )
            row = cursor.fetchone()
        if row is None:
            return ReceiveOutcome(duplicate=True, result="duplicate", detail="event already received")
        result, detail = provider_outcome_apply(
            object_type=notification.object_type,
            object_id=notification.object_id,
            status=notification.status,
            source="provider_webhook",
            error_code=notification.error_code,
            error_description=notification.error_description,
        )
        ProviderNotification.objects.filter(pk=row[0]).update(result=result, detail=detail[:255])
    return ReceiveOutcome(duplicate=False, result=result, detail=detail)
