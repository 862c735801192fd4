"""Read-side selectors for the realtime app: snapshots for sockets, dashboard data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.expressions import RawSQL

from payments.models import ApiKey, Event, Merchant, Order, Payment
from payments.money import format_amount
from payments.selectors.events import event_list_for_merchant
from payments.snapshots import iso, payment_snapshot
from realtime.models import MerchantUser
from realtime.push import merchant_event_message

RESUME_LIMIT = 500
EVENT_PAGE = 100
# Same visibility rule as payments.selectors.events (every older transaction has finished).
VISIBLE_XMIN = RawSQL("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint", ())


def payment_socket_snapshot(*, payment_id: str) -> tuple[uuid.UUID, dict[str, Any]] | None:
    """(merchant id, full snapshot) of a payment, or None if there is no such payment."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return None
    return payment.merchant_id, payment_snapshot(payment)


def merchant_events_after(
    *, merchant_id: uuid.UUID, after: str | None, limit: int = RESUME_LIMIT
) -> tuple[list[dict[str, Any]], str | None]:
    """The merchant's events after cursor ``after`` (an event id; None = from the start)
    from the events API's gap-free log, in the websocket shape, plus the new cursor.
    Raises BadRequest for a cursor that is not this merchant's event."""
    merchant = Merchant(pk=merchant_id)
    messages: list[dict[str, Any]] = []
    cursor = after
    while len(messages) < limit:
        page = event_list_for_merchant(merchant=merchant, after=cursor, limit=min(EVENT_PAGE, limit - len(messages)))
        messages.extend(merchant_event_message(event) for event in page.events)
        cursor = page.next_cursor
        if not page.has_more:
            break
    return messages, cursor


def merchant_latest_cursor(*, merchant_id: uuid.UUID) -> str | None:
    """The newest event id in the visible prefix of the log (see payments.selectors.events):
    resuming after it can never skip an event that commits later."""
    return (
        Event.objects.filter(merchant_id=merchant_id, txid__lt=VISIBLE_XMIN)
        .order_by("-txid", "-seq")
        .values_list("id", flat=True)
        .first()
    )


def merchant_for_user(*, user: Any) -> Merchant | None:
    """The merchant a logged-in dashboard user belongs to, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    link = MerchantUser.objects.select_related("merchant").filter(user=user, merchant__is_active=True).first()
    return link.merchant if link else None


def order_for_checkout(*, order_id: str) -> Order | None:
    return Order.objects.filter(pk=order_id, merchant__is_active=True).first()


@dataclass(frozen=True)
class MerchantStats:
    total_transactions: int
    total_amount: str  # successful payments, formatted like ₹5,00,000
    success_rate: str  # like 95%


def merchant_stats(*, merchant: Merchant) -> MerchantStats:
    """Counts over all the merchant's payments in one aggregate query."""
    row = Payment.objects.filter(merchant=merchant).aggregate(
        total=Count("id"),
        success=Count("id", filter=Q(status="success")),
        amount=Sum("amount", filter=Q(status="success", currency="INR")),
    )
    total = row["total"] or 0
    success = row["success"] or 0
    amount = row["amount"] or 0
    rate = round(100 * success / total) if total else 0
    formatted = format_amount(amount, "INR")
    if formatted.endswith(".00"):
        formatted = formatted[:-3]
    return MerchantStats(total_transactions=total, total_amount=formatted, success_rate=f"{rate}%")


def payment_rows_for_merchant(*, merchant: Merchant, limit: int = 100) -> list[dict[str, Any]]:
    """The newest payments of a merchant for the transactions table."""
    payments = Payment.objects.filter(merchant=merchant).order_by("-created_at")[:limit]
    return [payment_row(payment_snapshot(p)) for p in payments]


def payment_row(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A payment snapshot plus its display amount (the JS renders the same shape)."""
    created = snapshot.get("created_at") or ""
    return {
        **snapshot,
        "amount_display": format_amount(snapshot["amount"], snapshot["currency"]),
        "created_display": created[:19].replace("T", " "),
    }


def api_key_for_display(*, merchant: Merchant) -> ApiKey | None:
    return ApiKey.objects.filter(merchant=merchant, revoked_at__isnull=True).order_by("created_at").first()


def webhook_log_rows(*, merchant: Merchant, limit: int = 50) -> list[dict[str, Any]]:
    """The merchant's newest webhook deliveries (``webhook_logs``) for the dashboard."""
    from webhooks.selectors import delivery_list_for_merchant

    rows = delivery_list_for_merchant(merchant=merchant)[:limit]
    return [
        {
            "id": d.pk,
            "event": d.event_type,
            "status": d.status,
            "attempts": d.attempts,
            "created_at": iso(d.created_at),
            "last_attempt_at": iso(d.last_attempt_at),
            "last_attempt_display": (iso(d.last_attempt_at) or "")[:19].replace("T", " ") or "—",
            "response_code": d.response_code,
        }
        for d in rows
    ]
