"""Helpers for realtime tests: payments made through the core's own transition service,
followed by one pass of the outbox dispatcher, which is what makes the live pushes (a
Celery worker runs it in production; here the test process plays that worker)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.test import Client

from payments.models import Merchant, Order, Payment
from payments.outbox import outbox_dispatch_all
from payments.services.transitions import payment_record_event, payment_transition


def make_payment(*, merchant: Merchant, amount: int = 50000, method: str = "upi") -> Payment:
    """A pending payment with its ``payment.created`` event, as the API would write it."""
    with transaction.atomic():
        order = Order.objects.create(merchant=merchant, amount=amount, currency="INR")
        payment = Payment.objects.create(
            merchant=merchant,
            order=order,
            amount=amount,
            currency="INR",
            method=method,
            vpa="success@upi" if method == "upi" else None,
            card_network="visa" if method == "card" else None,
            card_last4="1111" if method == "card" else None,
        )
        payment_record_event(
            payment=payment, event_type="payment.created", from_status=None, detail="created", source="api"
        )
    outbox_dispatch_all()
    return payment


def settle(payment: Payment, to_status: str = "success") -> Payment:
    settled = payment_transition(payment_id=payment.id, to_status=to_status, source="worker").obj
    outbox_dispatch_all()
    return settled


def bulk_payments(
    *,
    merchant: Merchant,
    created_at: Sequence[datetime],
    statuses: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
) -> list[Payment]:
    """One payment per ``created_at`` (its orders too), written directly: no events, so no
    worker ever processes them. For paging tests that need hundreds of rows at chosen
    times (``auto_now_add`` is overridden by a bulk update)."""
    count = len(created_at)
    statuses = statuses or ["pending"] * count
    orders = Order.objects.bulk_create(
        [Order(merchant=merchant, amount=10000 + i, currency="INR") for i in range(count)]
    )
    payments = [
        Payment(
            merchant=merchant,
            order=order,
            amount=order.amount,
            currency="INR",
            method="upi",
            vpa="success@upi",
            status=statuses[i],
            **({"id": ids[i]} if ids else {}),
        )
        for i, order in enumerate(orders)
    ]
    Payment.objects.bulk_create(payments)
    for payment, stamp in zip(payments, created_at, strict=True):
        payment.created_at = stamp
    Payment.objects.bulk_update(payments, ["created_at"])
    return payments


def logged_in(email: str, password: str) -> Client:
    """A dashboard session (CSRF enforced, as in a browser)."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login")
    response = client.post(
        "/login", {"email": email, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    return client
