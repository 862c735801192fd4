"""Dashboard charts: the numbers (one aggregate query each, days in the merchant's
timezone) and their server-side SVG geometry. No JavaScript and no chart library: the page
draws ``<rect>``s whose sizes come from here, each carrying its value in ``data-value`` and a
``<title>`` for people and screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Aggregate, Count, FloatField, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.models import Merchant, Payment, Refund
from payments.money import format_amount
from payments.states import PAYMENT_CHARGED, PaymentStatus, RefundStatus
from webhooks.models import WebhookAttempt

CHART_CURRENCY = "INR"  # the dashboard's money charts (the overview's stats are INR too)
WINDOWS = (7, 30)


class Percentile(Aggregate):
    """PostgreSQL ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=fraction, **extra)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float
    display: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    test_id: str
    bars: list[Bar]
    width: int
    height: int
    top_display: str

    @property
    def summary(self) -> str:
        return f"{self.title}: " + ", ".join(f"{b.label} {b.display}" for b in self.bars)


def bar_chart(
    *,
    title: str,
    test_id: str,
    points: list[tuple[str, int | float]],
    display: Any,
    width: int = 640,
    height: int = 160,
) -> Chart:
    """Bars scaled to the largest value (an empty or all-zero series draws flat bars)."""
    top = max((value for _, value in points), default=0) or 1
    slot = width / max(1, len(points))
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = round(height * value / top, 2)
        bars.append(
            Bar(
                label=label,
                value=value,
                display=display(value),
                x=round(index * slot + slot * 0.1, 2),
                y=round(height - bar_height, 2),
                width=round(slot * 0.8, 2),
                height=bar_height,
            )
        )
    return Chart(title=title, test_id=test_id, bars=bars, width=width, height=height, top_display=display(top))


def _days(zone: ZoneInfo, days: int) -> tuple[list[date], datetime]:
    today = timezone.now().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    return [first + timedelta(days=i) for i in range(days)], datetime.combine(first, time.min, tzinfo=zone)


def _inr(minor: int | float) -> str:
    text = format_amount(int(minor), CHART_CURRENCY)
    return text[:-3] if text.endswith(".00") else text


def _percent(value: int | float) -> str:
    return f"{value:g}%"


def merchant_charts(*, merchant: Merchant, zone: ZoneInfo, days: int, mode: str | None = None) -> dict[str, Any]:
    """Every chart of the overview for the last ``days`` days (today included), of one mode
    (test or live) or of both (``None``)."""
    day_list, start = _days(zone, days)
    same_mode = {} if mode is None else {"mode": mode}
    payments = Payment.objects.filter(merchant=merchant, created_at__gte=start, **same_mode)
    daily = {
        row["day"]: row
        for row in payments.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(
            count=Count("id"),
            volume=Sum("amount", filter=Q(status__in=PAYMENT_CHARGED, currency=CHART_CURRENCY)),
        )
        .order_by()
    }
    by_method = {
        row["method"]: row
        for row in payments.values("method")
        .annotate(total=Count("id"), success=Count("id", filter=Q(status=PaymentStatus.SUCCESS)))
        .order_by()
    }
    refunds = {
        row["day"]: row
        for row in Refund.objects.filter(
            merchant=merchant,
            created_at__gte=start,
            status=RefundStatus.PROCESSED,
            payment__currency=CHART_CURRENCY,
            **same_mode,
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(amount=Sum("amount"), count=Count("id"))
        .order_by()
    }
    endpoints = list(
        WebhookAttempt.objects.filter(
            delivery__merchant=merchant,
            started_at__gte=start,
            **({} if mode is None else {"delivery__event__mode": mode}),
        )
        .values("delivery__endpoint_id", "delivery__endpoint__url")
        .annotate(
            total=Count("id"),
            ok=Count("id", filter=Q(error_class="", status_code__gte=200, status_code__lt=300)),
            p95=Percentile("latency_ms", fraction=0.95),
        )
        .order_by("delivery__endpoint__url")
    )
    labels = [d.strftime("%b %d") for d in day_list]

    def per_day(rows: dict[Any, dict[str, Any]], key: str) -> list[tuple[str, int]]:
        return [(label, rows.get(d, {}).get(key) or 0) for label, d in zip(labels, day_list, strict=True)]

    def rate(success: int, total: int) -> float:
        return round(100 * success / total, 1) if total else 0.0

    return {
        "days": days,
        "mode": mode or "all",
        "volume": bar_chart(
            title="Successful volume per day",
            test_id="chart-volume",
            points=per_day(daily, "volume"),
            display=_inr,
        ),
        "count": bar_chart(
            title="Payments per day",
            test_id="chart-count",
            points=per_day(daily, "count"),
            display=str,
        ),
        "methods": bar_chart(
            title="Success rate by method",
            test_id="chart-methods",
            points=[(m, rate(r["success"], r["total"])) for m, r in sorted(by_method.items())],
            display=_percent,
            width=320,
        ),
        "refunds": bar_chart(
            title="Refunded per day",
            test_id="chart-refunds",
            points=per_day(refunds, "amount"),
            display=_inr,
        ),
        "endpoint_rates": bar_chart(
            title="Webhook success rate by endpoint",
            test_id="chart-endpoint-success",
            points=[(e["delivery__endpoint__url"], rate(e["ok"], e["total"])) for e in endpoints],
            display=_percent,
            width=320,
        ),
        "endpoint_p95": bar_chart(
            title="Webhook p95 latency by endpoint",
            test_id="chart-endpoint-p95",
            points=[(e["delivery__endpoint__url"], round(e["p95"] or 0)) for e in endpoints],
            display=lambda ms: f"{ms:g} ms",
            width=320,
        ),
    }
