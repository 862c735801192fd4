"""Seeded data for the chart tests (test client and chromium) with the values it implies:
payments on chosen local days of the merchant's timezone, a processed refund, and webhook
attempts with known outcomes and latencies on two endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from payments.models import Event, Merchant, Payment, Refund
from tests.realtime.helpers import bulk_payments
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services.endpoints import endpoint_create

KOLKATA = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True)
class Seeded:
    labels: list[str]  # the 7 day labels, oldest first
    volume: list[int]  # successful INR minor units per day
    count: list[int]
    refunded: list[int]
    method_rates: dict[str, float]
    endpoint_rates: dict[str, float]  # url -> %
    endpoint_p95: dict[str, int]  # url -> ms


def seed_charts(merchant: Merchant, other: Merchant) -> Seeded:
    today = timezone.now().astimezone(KOLKATA).date()
    days = [today - timedelta(days=6 - i) for i in range(7)]

    def at(day_index: int, hour: int) -> datetime:
        # Hour 0:30 local is the previous day in UTC: the charts must bucket by local day.
        return datetime.combine(days[day_index], time(hour, 30), tzinfo=KOLKATA)

    plan = [  # (day, hour, status, method, amount)
        (0, 0, "success", "upi", 10000),
        (0, 10, "failed", "upi", 5000),
        (3, 9, "success", "card", 25000),
        (3, 9, "success", "upi", 15000),
        (3, 23, "failed", "card", 7000),
        (6, 0, "success", "upi", 40000),
    ]
    payments = bulk_payments(
        merchant=merchant, created_at=[at(d, h) for d, h, *_ in plan], statuses=[s for _, _, s, _, _ in plan]
    )
    for payment, (_, _, _, method, amount) in zip(payments, plan, strict=True):
        Payment.objects.filter(pk=payment.pk).update(
            method=method,
            amount=amount,
            vpa="success@upi" if method == "upi" else None,
            card_network="visa" if method == "card" else None,
            card_last4="1111" if method == "card" else None,
        )
    refund = Refund.objects.create(merchant=merchant, payment=payments[2], amount=5000, status="processed")
    Refund.objects.filter(pk=refund.pk).update(created_at=at(5, 12))
    Refund.objects.create(merchant=merchant, payment=payments[3], amount=999, status="failed")  # not refunded
    bulk_payments(merchant=other, created_at=[at(6, 12)], statuses=["success"])  # never counted

    # Finished deliveries written directly (their event already dispatched), so no worker
    # ever sends them and the attempts stay exactly these.
    endpoints = {
        name: endpoint_create(merchant=merchant, url=f"http://127.0.0.1:9/{name}", actor="test")
        for name in ("fast", "slow")
    }
    started = at(6, 12)
    for name, latencies, oks in (("fast", range(1, 101), 100), ("slow", [1000, 2000, 3000, 4000], 3)):
        event = Event.objects.create(
            merchant=merchant, type="webhook.test", object_type="webhook_endpoint", object_id=endpoints[name].pk,
            data={}, dispatched_at=timezone.now(),
        )  # fmt: skip
        delivery = WebhookDelivery.objects.create(
            merchant=merchant, endpoint=endpoints[name], event=event, event_type=event.type, status="success"
        )
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    delivery=delivery,
                    number=i + 1,
                    started_at=started,
                    url=endpoints[name].url,
                    status_code=200 if i < oks else 500,
                    error_class="" if i < oks else "http_status",
                    latency_ms=latency,
                    webhook_timestamp=int(started.timestamp()),
                )
                for i, latency in enumerate(latencies)
            ]
        )
    return Seeded(
        labels=[d.strftime("%b %d") for d in days],
        volume=[10000, 0, 0, 40000, 0, 0, 40000],
        count=[2, 0, 0, 3, 0, 0, 1],
        refunded=[0, 0, 0, 0, 0, 5000, 0],
        method_rates={"card": 50.0, "upi": 75.0},
        # percentile_cont(0.95) of 1..100 is 95.05; of 1000..4000 it is 3850.
        endpoint_rates={"http://127.0.0.1:9/fast": 100.0, "http://127.0.0.1:9/slow": 75.0},
        endpoint_p95={"http://127.0.0.1:9/fast": 95, "http://127.0.0.1:9/slow": 3850},
    )
