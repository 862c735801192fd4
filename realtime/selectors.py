"""Read-side selectors for the realtime app: snapshots for sockets, dashboard data."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from common.errors import InvalidInput
from payments.ids import is_public_id
from payments.models import ApiKey, Merchant, Order, Payment
from payments.money import format_amount
from payments.selectors.events import event_list_for_merchant
from payments.snapshots import iso, payment_snapshot
from payments.states import PaymentStatus
from realtime.models import DashboardAudit, Invitation, MerchantUser
from realtime.push import merchant_event_message
from webhooks.selectors import delivery_list_for_merchant

RESUME_LIMIT = 500
PAYMENT_PAGE_SIZE = 100  # transactions table: first page and every "Load older"
STATUS_ALL = "all"
CURSOR_MAX_LENGTH = 200
CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
EVENT_PAGE = 100


def payment_socket_snapshot(*, payment_id: str) -> tuple[uuid.UUID, str, dict[str, Any]] | None:
    """(merchant id, mode, full snapshot) of a payment, or None if there is no such payment."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return None
    return payment.merchant_id, payment.mode, payment_snapshot(payment)


def merchant_events_after(
    *, merchant_id: uuid.UUID, after: str | None, mode: str | None = None, limit: int = RESUME_LIMIT
) -> tuple[list[dict[str, Any]], str | None]:
    """The merchant's events after cursor ``after`` (an event id; None = from the start)
    from the events API's gap-free log, in the websocket shape, plus the new cursor; with
    ``mode``, that world's events only. Raises InvalidInput for a cursor that is not this
    merchant's (or that world's) event."""
    merchant = Merchant(pk=merchant_id)
    merchant.acting_mode = mode
    messages: list[dict[str, Any]] = []
    cursor = after
    while len(messages) < limit:
        page = event_list_for_merchant(merchant=merchant, after=cursor, limit=min(EVENT_PAGE, limit - len(messages)))
        messages.extend(merchant_event_message(event) for event in page.events)
        cursor = page.next_cursor
        if not page.has_more:
            break
    return messages, cursor


def merchant_latest_cursor(*, merchant_id: uuid.UUID, mode: str | None = None) -> str | None:
    """The newest event id in the visible prefix of the log (see payments.selectors.events),
    of one world with ``mode``: resuming after it can never skip an event that commits later."""
    merchant = Merchant(pk=merchant_id)
    merchant.acting_mode = mode
    page = event_list_for_merchant(merchant=merchant, newest_first=True, limit=1)
    return page.events[0].id if page.events else None


def membership_for_user(*, user: Any) -> MerchantUser | None:
    """The logged-in dashboard user's link (merchant and role), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return MerchantUser.objects.select_related("merchant", "user").filter(user=user, merchant__is_active=True).first()


def merchant_for_user(*, user: Any) -> Merchant | None:
    """The merchant a logged-in dashboard user belongs to, or None."""
    link = membership_for_user(user=user)
    return link.merchant if link else None


def team_list_for_merchant(*, merchant: Merchant) -> list[MerchantUser]:
    return list(MerchantUser.objects.select_related("user").filter(merchant=merchant).order_by("created_at", "pk"))


def invitation_list_open_for_merchant(*, merchant: Merchant) -> list[Invitation]:
    return list(
        Invitation.objects.filter(merchant=merchant, accepted_at__isnull=True, expires_at__gt=timezone.now()).order_by(
            "-created_at"
        )[:100]
    )


AUDIT_PAGE_SIZE = 50


def audit_page_for_merchant(
    *, merchant: Merchant, before: str | None = None, limit: int = AUDIT_PAGE_SIZE
) -> tuple[list[DashboardAudit], int | None]:
    """One page of the dashboard audit log, newest first (keyset on the id); the id to pass
    as ``before`` for the next page, or None. A malformed ``before`` is a InvalidInput."""
    queryset = DashboardAudit.objects.filter(merchant=merchant)
    if before:
        if not before.isdigit() or len(before) > 18:
            raise InvalidInput("before must be an audit entry id", field="before", reason="invalid_cursor")
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset.order_by("-pk")[: limit + 1])
    return rows[:limit], (rows[limit - 1].pk if len(rows) > limit else None)


def order_for_checkout(*, order_id: str) -> Order | None:
    """The order a checkout link names, or None. Anything not shaped like an order id (NUL
    bytes included, which PostgreSQL refuses) is unknown without asking the database."""
    if not is_public_id(order_id, "order"):
        return None
    return Order.objects.filter(pk=order_id, merchant__is_active=True).first()


@dataclass(frozen=True)
class MerchantStats:
    total_transactions: int
    total_amount: str  # successful payments, formatted like ₹5,00,000
    success_rate: str  # like 95%


def merchant_stats(*, merchant: Merchant, mode: str | None = None) -> MerchantStats:
    """Counts over the merchant's payments of one mode (test or live) or of both (``None``),
    in one aggregate query: the overview's mode choice, so test payments never swell what
    a live merchant reads as its takings."""
    same_mode = {} if mode is None else {"mode": mode}
    row = Payment.objects.filter(merchant=merchant, **same_mode).aggregate(
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


@dataclass(frozen=True)
class PaymentPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None  # None: nothing older

    def as_json(self) -> dict[str, Any]:
        return {"data": self.rows, "next_cursor": self.next_cursor, "has_more": self.next_cursor is not None}


def payment_cursor_encode(*, created_at: datetime, payment_id: str) -> str:
    """An opaque position in the table's order. Built from the model's microsecond
    ``created_at``: snapshots carry milliseconds only, which would skip or repeat rows."""
    raw = f"{created_at.astimezone(UTC).isoformat()}|{payment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def payment_cursor_decode(cursor: str) -> tuple[datetime, str]:
    """(created_at, id) of a cursor from ``payment_cursor_encode``; InvalidInput otherwise."""
    invalid = InvalidInput("before is not a valid cursor", field="before", reason="invalid_cursor")
    if not cursor or len(cursor) > CURSOR_MAX_LENGTH or not CURSOR_ALPHABET.fullmatch(cursor):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, payment_id = raw.split("|")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        created_at = created_at.astimezone(UTC)
    # binascii.Error and UnicodeDecodeError are ValueErrors; OverflowError: year 1 at +14:00.
    except (ValueError, OverflowError) as exc:
        raise invalid from exc
    if not is_public_id(payment_id, "pay"):
        raise invalid
    return created_at, payment_id


def payment_status_filter(value: str | None) -> str | None:
    """The status a table filter names (None = all); InvalidInput for anything else."""
    if value in (None, "", STATUS_ALL):
        return None
    if value not in PaymentStatus.values:
        raise InvalidInput(
            f"status must be one of {', '.join([STATUS_ALL, *PaymentStatus.values])}",
            field="status",
            reason="invalid_status",
        )
    return value


def payment_page_for_merchant(
    *,
    merchant: Merchant,
    status: str | None = None,
    before: str | None = None,
    limit: int = PAYMENT_PAGE_SIZE,
    queryset: QuerySet[Payment] | None = None,
) -> PaymentPage:
    """One page of the transactions table, newest first in (created_at, id) order: the
    newest ``limit`` payments, or the next ``limit`` older than cursor ``before``. ``status``
    (None = all) filters server-side. Raises InvalidInput for a malformed cursor.

    Keyset, not OFFSET: a page costs the same however deep it is, and payments created
    meanwhile neither shift nor repeat rows. ``created_at <= c`` is the index condition on
    payments_merchant_created (merchant, created_at DESC); the id tie-break is a filter on
    the few rows sharing ``c``. With ``status`` the scan also steps over the other
    statuses' rows (no (merchant, status, created_at) index), so a rare status costs more.
    ``queryset`` (the dashboard search's filtered payments) replaces the merchant's payments;
    it is re-scoped to ``merchant`` here all the same."""
    queryset = (queryset if queryset is not None else Payment.objects).filter(merchant=merchant)
    if status is not None:
        queryset = queryset.filter(status=status)
    if before is not None:
        created_at, payment_id = payment_cursor_decode(before)
        queryset = queryset.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(id__lt=payment_id)
        )
    payments = list(queryset.order_by("-created_at", "-id")[: limit + 1])
    has_more = len(payments) > limit
    payments = payments[:limit]
    last = payments[-1] if has_more else None
    return PaymentPage(
        rows=[payment_row(payment_snapshot(p)) for p in payments],
        next_cursor=payment_cursor_encode(created_at=last.created_at, payment_id=last.id) if last else None,
    )


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
