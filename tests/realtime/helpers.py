"""Helpers for realtime tests: payments made through the core's own transition service,
followed by one pass of the outbox dispatcher, which is what makes the live pushes (a
Celery worker runs it in production; here the test process plays that worker)."""

from __future__ import annotations

from django.db import transaction

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
