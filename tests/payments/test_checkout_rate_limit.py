"""The public checkout create has no API key, so it is limited per client IP and per order:
the hosted checkout must not be a card-testing oracle. Limited requests get 429
``RATE_LIMIT_ERROR`` with ``Retry-After`` in the envelope, and write nothing."""

from __future__ import annotations

import pytest
from django.test import override_settings

from payments.models import Payment
from tests.payments.factories import OrderFactory

pytestmark = pytest.mark.django_db

DECLINED = {"number": "4000 0000 0000 0002", "expiry_month": 12, "expiry_year": 2099, "cvv": "123"}


@pytest.fixture(autouse=True)
def one_window(monkeypatch, redis_client):
    """Freeze the limiter's clock inside one fixed window (and start from empty counters)."""
    from common.http import throttling

    monkeypatch.setattr(throttling.time, "time", lambda: 1_800_000_000.25)


def attempt(anon, order_id: str, ip: str = "203.0.113.7"):
    return anon.post(
        "/api/v1/payments/public",
        {"order_id": order_id, "method": "card", "card": DECLINED},
        format="json",
        REMOTE_ADDR=ip,
    )


def test_attempts_per_order_are_capped_with_429_and_nothing_written(anon, alice):
    order, other = OrderFactory(merchant=alice.merchant), OrderFactory(merchant=alice.merchant)
    with override_settings(CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR=3):
        statuses = [attempt(anon, order.id, ip=f"203.0.113.{n}").status_code for n in range(3)]
        limited = attempt(anon, order.id, ip="203.0.113.99")  # a new IP does not reset the order's count
        assert attempt(anon, other.id).status_code == 201  # other orders are unaffected
    assert statuses == [201, 201, 201]
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert (error["code"], error["reason"], error["field"]) == ("RATE_LIMIT_ERROR", "too_many_attempts", "order_id")
    assert limited["Retry-After"] == "3600"  # 3599.75 s until the hour's window ends, rounded up
    assert Payment.objects.filter(order=order).count() == 3


def test_creates_per_client_ip_are_capped_per_minute(anon, alice):
    orders = [OrderFactory(merchant=alice.merchant) for _ in range(3)]
    with override_settings(CHECKOUT_RATE_LIMIT_PER_MINUTE=2):
        statuses = [attempt(anon, order.id).status_code for order in orders]
        retry_after = limited_by_ip_retry_after(anon, orders[2].id)
        other_ip = attempt(anon, orders[2].id, ip="198.51.100.4")
    assert statuses == [201, 201, 429]
    assert retry_after == "60"  # 59.75 s left in the minute, rounded up
    assert other_ip.status_code == 201
    assert Payment.objects.filter(order=orders[2]).count() == 1  # only the other IP's attempt


def limited_by_ip_retry_after(anon, order_id: str) -> str:
    response = attempt(anon, order_id)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_ERROR"
    return response["Retry-After"]


def test_the_status_poll_of_the_checkout_is_not_limited(anon, alice):
    order = OrderFactory(merchant=alice.merchant)
    with override_settings(CHECKOUT_RATE_LIMIT_PER_MINUTE=1, CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR=1):
        payment_id = attempt(anon, order.id).json()["id"]
        polls = {anon.get(f"/api/v1/payments/{payment_id}/public").status_code for _ in range(5)}
    assert polls == {200}


def test_checkout_limits_fail_open_when_redis_is_down(anon, alice):
    order = OrderFactory(merchant=alice.merchant)
    with override_settings(
        CHECKOUT_RATE_LIMIT_PER_MINUTE=1,
        CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR=1,
        REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there: the limiter's Redis is down
        REDIS_SOCKET_TIMEOUT=0.2,
    ):
        statuses = [attempt(anon, order.id).status_code for _ in range(3)]
    assert statuses == [201, 201, 201]
