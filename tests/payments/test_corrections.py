"""Corrections (reconciliation, staff) keep the order's status true: an order whose only
successful payment is corrected to failed is no longer paid and can be paid again."""

import pytest

from payments.models import Order, Payment
from payments.services.transitions import payment_transition
from tests.realtime.helpers import make_payment, settle

pytestmark = pytest.mark.django_db


def test_success_corrected_to_failed_unpays_the_order_and_it_can_be_paid_again(alice):
    payment = settle(make_payment(merchant=alice.merchant), "success")
    assert Order.objects.get(pk=payment.order_id).status == "paid"

    moved = payment_transition(payment_id=payment.id, to_status="failed", source="reconciliation", correction=True)
    assert moved.changed and moved.obj.status == "failed"
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == "attempted"
    assert alice.client.get(f"/api/v1/orders/{order.id}").json()["status"] == "attempted"
    retry = alice.client.post(
        "/api/v1/payments", {"order_id": order.id, "method": "upi", "vpa": "a@upi"}, format="json"
    )
    assert retry.status_code == 201, retry.content


def test_failed_corrected_to_success_pays_the_order(alice):
    payment = settle(make_payment(merchant=alice.merchant), "failed")
    payment_transition(payment_id=payment.id, to_status="success", source="reconciliation", correction=True)
    assert Order.objects.get(pk=payment.order_id).status == "paid"


def test_another_payment_failing_leaves_a_paid_order_paid(alice):
    first = make_payment(merchant=alice.merchant)
    second = Payment.objects.create(
        merchant=alice.merchant, order_id=first.order_id, amount=first.amount, currency="INR", method="upi", vpa="b@upi"
    )
    settle(first, "success")
    settle(second, "failed")
    assert Order.objects.get(pk=first.order_id).status == "paid"
