"""Reads behind the dashboard's payment page (one payment with its order, customer,
timeline, refunds, webhook deliveries with every attempt, and events), its search, and the
CSV export. Scoped to the merchant through the payments and webhooks apps' own selectors
(another merchant's payment is their ``NotFound``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from payments.ids import is_public_id
from payments.models import Event, Merchant, Payment, Refund, TimelineEntry
from payments.money import CURRENCY_EXPONENTS, format_amount
from payments.selectors.payments import payment_get_for_merchant, refund_list_for_merchant
from payments.services.refunds import payment_refundable_amount
from payments.states import PaymentStatus, RefundStatus
from realtime.models import DEFAULT_TIMEZONE, DashboardSettings
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.selectors import delivery_list_for_merchant

DETAIL_LIMIT = 200  # deliveries and events shown on one payment's page


@dataclass(frozen=True)
class PaymentDetail:
    payment: Payment
    amount_display: str
    refunds: list[Refund]
    refundable: int
    refundable_display: str
    timeline: list[TimelineEntry]
    deliveries: list[WebhookDelivery]
    events: list[Event]
    can_capture: bool
    can_cancel: bool

    @property
    def method_display(self) -> str:
        p = self.payment
        if p.method == "upi":
            return f"UPI · {p.vpa}"
        return f"Card · {(p.card_network or '').upper()} •••• {p.card_last4 or ''}".strip()


def payment_detail_for_merchant(*, merchant: Merchant, payment_id: str) -> PaymentDetail:
    """Everything the payment page shows. Raises ``NotFound`` for an unknown payment or
    another merchant's. Capture/cancel flags only decide which buttons show: the services
    decide again under the row lock."""
    payment = payment_get_for_merchant(merchant=merchant, payment_id=payment_id)
    payment = Payment.objects.select_related("order", "customer").get(pk=payment.pk)
    refunds = list(refund_list_for_merchant(merchant=merchant, payment_id=payment.pk))
    for refund in refunds:
        refund.amount_display = format_amount(refund.amount, payment.currency)  # type: ignore[attr-defined]
    object_ids = [payment.pk, *(r.pk for r in refunds)]
    deliveries = list(
        delivery_list_for_merchant(merchant=merchant)
        .filter(event__object_id__in=object_ids)
        .select_related("endpoint")
        .prefetch_related(Prefetch("attempt_rows", queryset=WebhookAttempt.objects.order_by("started_at", "id")))[
            :DETAIL_LIMIT
        ]
    )
    events = list(Event.objects.filter(merchant=merchant, object_id__in=object_ids).order_by("-seq")[:DETAIL_LIMIT])
    timeline = list(TimelineEntry.objects.filter(payment=payment).order_by("created_at", "id"))
    refundable = payment_refundable_amount(payment_id=payment.pk)
    return PaymentDetail(
        payment=payment,
        amount_display=format_amount(payment.amount, payment.currency),
        refunds=refunds,
        refundable=refundable,
        refundable_display=format_amount(refundable, payment.currency),
        timeline=timeline,
        deliveries=deliveries,
        events=events,
        can_capture=payment.status == PaymentStatus.SUCCESS and not payment.captured,
        can_cancel=payment.status == PaymentStatus.PENDING and payment.submitted_at is None,
    )


def merchant_timezone(*, merchant: Merchant) -> ZoneInfo:
    """The merchant's dashboard timezone (Asia/Kolkata until the owner changes it)."""
    name = DashboardSettings.objects.filter(merchant=merchant).values_list("timezone", flat=True).first()
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def payment_search_apply(
    queryset: QuerySet[Payment], *, q: str, amount_min: int | None, amount_max: int | None
) -> QuerySet[Payment]:
    """Narrow the merchant's (already filtered) payments by the search box and an amount
    range (minor units, inclusive). ``q`` is matched exactly, by its shape: a payment,
    order or refund id; an address with ``@`` (the customer's e-mail or the VPA, any case);
    four digits (a card's last four). Anything else matches nothing."""
    q = q.strip()
    if q:
        if is_public_id(q, "pay"):
            queryset = queryset.filter(pk=q)
        elif is_public_id(q, "order"):
            queryset = queryset.filter(order_id=q)
        elif is_public_id(q, "rfnd"):
            queryset = queryset.filter(refunds__id=q)
        elif "@" in q and len(q) <= 255:
            queryset = queryset.filter(Q(vpa__iexact=q) | Q(customer__email__iexact=q))
        elif len(q) == 4 and q.isascii() and q.isdigit():
            queryset = queryset.filter(card_last4=q)
        else:
            queryset = queryset.none()
    if amount_min is not None:
        queryset = queryset.filter(amount__gte=amount_min)
    if amount_max is not None:
        queryset = queryset.filter(amount__lte=amount_max)
    return queryset


CSV_COLUMNS = [
    "payment_id",
    "order_id",
    "created_at",
    "status",
    "method",
    "amount",
    "currency",
    "amount_minor",
    "refunded_minor",
    "captured",
    "vpa",
    "card_network",
    "card_last4",
    "customer_email",
    "error_code",
    "mode",
]
CSV_CHUNK = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _major(amount: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return str(Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def payments_csv_rows(queryset: QuerySet[Payment], *, zone: ZoneInfo) -> Iterator[str]:
    """The header and one CSV line per payment of ``queryset`` (newest first), times in
    ``zone`` with their offset; read from a server-side cursor in chunks, so the export
    holds one chunk in memory however many rows match."""
    refunded = (
        Refund.objects.filter(payment_id=OuterRef("pk"), status=RefundStatus.PROCESSED)
        .values("payment_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    rows = (
        queryset.annotate(refunded_minor=Coalesce(Subquery(refunded), 0))
        .values_list(
            "id",
            "order_id",
            "created_at",
            "status",
            "method",
            "amount",
            "currency",
            "refunded_minor",
            "captured",
            "vpa",
            "card_network",
            "card_last4",
            "customer__email",
            "error_code",
            "mode",
        )
        .order_by("-created_at", "-id")
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for row in rows.iterator(chunk_size=CSV_CHUNK):
        pid, order_id, created, status, method, amount, currency, refunded_minor, captured, *rest = row
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                pid,
                order_id,
                created.astimezone(zone).isoformat(timespec="seconds"),
                status,
                method,
                _major(amount, currency),
                currency,
                amount,
                refunded_minor,
                "true" if captured else "false",
                *(_cell(value) for value in rest),
            ]
        )
        yield buffer.getvalue()
