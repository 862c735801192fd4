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
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from payments.models import Order, Payment, ProviderNotification, Refund
from payments.providers import get_provider
from payments.services.charges import payment_charge_record
from payments.services.transitions import (
    ORDER,
    PAYMENT,
    payment_record_events,
    payment_sources_for,
    payment_transition,
    refund_transition,
)
from payments.states import OrderStatus, PaymentStatus, RefundStatus

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


@dataclass(frozen=True)
class BatchReceiveOutcome:
    """One POST of several notifications: how many were new, how many duplicates, and the
    event ids whose application failed (not stored: the provider's retry applies them)."""

    received: int
    duplicates: int
    failed: list[str]


# A batch's notifications in one statement; the event ids that were new come back.
_INSERT_MANY_SQL = """
INSERT INTO provider_notifications
    (provider, event_id, object_type, object_id, status, payload, raw_body, received_at, result, detail)
SELECT %(provider)s, e, t, o, s, p::jsonb, p, now(), %(result)s, ''
  FROM unnest(%(event_ids)s::text[], %(object_types)s::text[], %(object_ids)s::text[], %(statuses)s::text[],
              %(payloads)s::text[]) AS n(e, t, o, s, p)
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id, event_id
"""
_RESULTS_SQL = """
UPDATE provider_notifications AS n SET result = r.result, detail = r.detail
  FROM unnest(%(ids)s::bigint[], %(results)s::text[], %(details)s::text[]) AS r(id, result, detail)
 WHERE n.id = r.id
"""


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
    return _outcome_apply(
        object_type=object_type,
        object_id=object_id,
        status=status,
        source=source,
        error_code=error_code,
        error_description=error_description,
        exists=None,
    )


def _outcome_apply(
    *,
    object_type: str,
    object_id: str,
    status: str,
    source: str,
    error_code: str | None,
    error_description: str | None,
    exists: bool | None,
) -> tuple[str, str]:
    """:func:`provider_outcome_apply`; ``exists`` is whether the object exists when the
    caller has already looked (a batch looks once for all), ``None`` to look here."""
    if object_type == "payment":
        if status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            return Result.IGNORED, f"non-final status {status!r}"
        if not (Payment.objects.filter(pk=object_id).exists() if exists is None else exists):
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
        if not (Refund.objects.filter(pk=object_id).exists() if exists is None else exists):
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


def provider_notification_receive(
    *, provider_name: str, headers: Mapping[str, str], body: bytes
) -> ReceiveOutcome | BatchReceiveOutcome:
    """Verify (raises ``InvalidSignature``), store raw, deduplicate by the provider's
    event id and apply, all in one transaction: a crash leaves neither half. A provider
    that batches its notifications (``verify_webhook_batch``) may send many in one POST:
    see :func:`_notifications_receive`."""
    provider = get_provider(provider_name)
    verify_batch = getattr(provider, "verify_webhook_batch", None)
    notifications = [provider.verify_webhook(headers, body)] if verify_batch is None else verify_batch(headers, body)
    if len(notifications) > 1:
        return _notifications_receive(provider_name=provider_name, notifications=notifications)
    notification = notifications[0]
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


def _notifications_receive(*, provider_name: str, notifications: list) -> BatchReceiveOutcome:
    """Store and apply a verified batch in one transaction (one WAL flush for all of it):
    one INSERT for every notification (a duplicate event id, in an earlier POST or twice in
    this one, is skipped), one look-up of the objects, each application under its own
    savepoint, one UPDATE of the results. A notification whose application raised is rolled
    back to its savepoint and its row removed, so the provider's retry of the POST (it is
    answered 503) applies it; the others are committed and come back as duplicates. Applied
    in object-id order, the order every batch takes row locks in; one object's notifications
    keep the order they were sent in (a stale ``pending`` after its final stays behind it)."""
    notifications = sorted(notifications, key=lambda n: (n.object_type, n.object_id))
    params = {
        "provider": provider_name,
        "result": Result.IGNORED,
        "event_ids": [n.event_id[:128] for n in notifications],
        "object_types": [n.object_type[:16] for n in notifications],
        "object_ids": [n.object_id[:64] for n in notifications],
        "statuses": [n.status[:16] for n in notifications],
        "payloads": [json.dumps(n.payload, separators=(",", ":")) for n in notifications],
    }
    results: dict[int, tuple[str, str]] = {}
    failed: list[str] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_MANY_SQL, params)
            new = {event_id: row_id for row_id, event_id in cursor.fetchall()}
        ids = [n.object_id for n in notifications]
        existing = {
            "payment": set(Payment.objects.filter(pk__in=ids).values_list("pk", flat=True)),
            "refund": set(Refund.objects.filter(pk__in=ids).values_list("pk", flat=True)),
        }
        fresh = []
        for notification in notifications:
            row_id = new.pop(notification.event_id[:128], None)
            if row_id is not None:  # else received before, or earlier in this POST
                fresh.append((row_id, notification))
        # The common case set-based: a payment whose first new notification here is its success.
        first: dict[str, tuple[int, object]] = {}
        for row_id, notification in fresh:
            if notification.object_type == "payment" and notification.object_id in existing["payment"]:
                first.setdefault(notification.object_id, (row_id, notification))
        successes = {pid: row_id for pid, (row_id, n) in first.items() if n.status == PaymentStatus.SUCCESS}
        for payment_id in _payment_successes_record(payment_ids=sorted(successes), source="provider_webhook"):
            results[successes[payment_id]] = (Result.APPLIED, f"payment {PaymentStatus.SUCCESS}")
        for row_id, notification in fresh:
            if row_id in results:
                continue
            try:
                with transaction.atomic():
                    results[row_id] = _outcome_apply(
                        object_type=notification.object_type,
                        object_id=notification.object_id,
                        status=notification.status,
                        source="provider_webhook",
                        error_code=notification.error_code,
                        error_description=notification.error_description,
                        exists=notification.object_id in existing.get(notification.object_type, ()),
                    )
            except Exception:  # one object's failure must not hold up the others of the POST
                logger.exception("provider notification not applied", extra={"event_id": notification.event_id})
                failed.append(notification.event_id)
                ProviderNotification.objects.filter(pk=row_id).delete()
        if results:
            with connection.cursor() as cursor:
                cursor.execute(
                    _RESULTS_SQL,
                    {
                        "ids": list(results),
                        "results": [result for result, _ in results.values()],
                        "details": [detail[:255] for _, detail in results.values()],
                    },
                )
    return BatchReceiveOutcome(
        received=len(results), duplicates=len(notifications) - len(results) - len(failed), failed=failed
    )


# Pending payments the provider charged, moved to success in one statement (the rows are
# locked by the caller): the set-based form of payment_transition's success move.
_SUCCESS_SQL = """
UPDATE payments SET status = 'success', version = version + 1, updated_at = %(now)s,
       error_code = NULL, error_description = NULL
 WHERE id = ANY(%(ids)s) AND status = 'pending'
RETURNING *
"""


def _payment_successes_record(*, payment_ids: list[str], source: str) -> list[str]:
    """Record the charge of each of ``payment_ids`` (sorted) that is plainly a success: still
    ``pending``, and its order neither paid already nor charged by another payment of this
    batch. As :func:`payments.services.charges.payment_charge_record` does one at a time: the
    payment rows, then their orders' rows are locked (in id order, separate statements, so
    the paid check reads after the locks), then one UPDATE moves them (version + 1), one
    INSERT each writes their timeline rows and ``payment.success`` events, one UPDATE marks
    the orders paid. Returns the ids moved; every other one (a duplicate charge to refund,
    a final payment) is left to the caller's one-at-a-time path. Under its own savepoint:
    if it fails, nothing of it stays and the caller's path takes them all.

    The timeline rows and events are the lifecycle writer's batch form
    (``transitions.payment_record_events``); the moves are checked against its tables."""
    if not payment_ids:
        return []
    try:
        with transaction.atomic():
            rows = list(
                Payment.objects.select_for_update()
                .filter(pk__in=payment_ids)
                .order_by("pk")
                .values_list("pk", "order_id", "status")
            )
            pending = {pk: order_id for pk, order_id, status in rows if status == PaymentStatus.PENDING}
            if not pending or PaymentStatus.PENDING not in payment_sources_for(PaymentStatus.SUCCESS):
                return []
            orders = set(pending.values())
            list(Order.objects.select_for_update().filter(pk__in=orders).order_by("pk").values_list("pk", flat=True))
            paid = set(
                Payment.objects.filter(order_id__in=orders, status=PaymentStatus.SUCCESS).values_list(
                    "order_id", flat=True
                )
            )
            per_order = Counter(pending.values())
            plain = sorted(pk for pk, order_id in pending.items() if order_id not in paid and per_order[order_id] == 1)
            if not plain:
                return []
            now = timezone.now()
            moved = list(Payment.objects.raw(_SUCCESS_SQL, {"ids": plain, "now": now}))
            payment_record_events(
                payments=moved,
                event_type=PAYMENT.event_for(PaymentStatus.PENDING, PaymentStatus.SUCCESS),
                from_status=PaymentStatus.PENDING,
                detail="Provider reported success",
                source=source,
            )
            # The orders' move to paid, by the order table (one UPDATE for the batch; an order
            # already paid was excluded above).
            Order.objects.filter(
                pk__in=[p.order_id for p in moved], status__in=ORDER.sources_for(OrderStatus.PAID)
            ).update(status=OrderStatus.PAID, updated_at=now)
    except Exception:  # noqa: BLE001 - e.g. a deadlock with another batch: one at a time instead
        logger.warning("batched charge record failed; applying one at a time", exc_info=True)
        return []
    return [p.pk for p in moved]
