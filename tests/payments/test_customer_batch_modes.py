"""Customers, saved methods, batches and notifications live in the mode of the key that
made them: the other mode's key sees 404 and cannot pay with them, a batch's payments,
orders and events carry its mode, and the same batch reference in test and live is two
batches."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from payments.models import Customer, Event, Order, Payment, PaymentBatch, SavedPaymentMethod
from payments.outbox import outbox_dispatch_batch
from payments.services.transitions import payment_transition
from tests.payments.conftest import card
from tests.payments.test_modes import alice_live, live_allowed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_customers_and_methods_are_confined_to_their_mode(alice, alice_live):  # noqa: F811
    test_customer = alice.client.post("/api/v1/customers", {"email": "t@example.com"}, format="json").json()
    live_customer = alice_live.post("/api/v1/customers", {"email": "l@example.com"}, format="json").json()
    assert dict(Customer.objects.values_list("id", "mode")) == {
        test_customer["id"]: "test",
        live_customer["id"]: "live",
    }
    assert alice_live.get(f"/api/v1/customers/{test_customer['id']}").status_code == 404
    assert [c["id"] for c in alice_live.get("/api/v1/customers").json()["data"]] == [live_customer["id"]]
    methods = f"/api/v1/customers/{test_customer['id']}/payment-methods"
    pm = alice.client.post(methods, {"type": "card", "card": card()}, format="json").json()["id"]
    assert SavedPaymentMethod.objects.get().mode == "test"
    assert alice_live.post(methods, {"type": "upi", "vpa": "a@b"}, format="json").status_code == 404
    paid = alice_live.post(
        "/api/v1/payments", {"amount": 500, "payment_method_id": pm, "customer_id": test_customer["id"]}, format="json"
    )
    assert paid.status_code == 404 and Payment.objects.count() == 0


def test_batches_carry_their_mode_and_references_are_per_mode(alice, alice_live, smtp_free_settings):  # noqa: F811
    item = {"reference": "i-1", "amount": 1000, "vpa": "success@upi"}
    test_batch = alice.client.post("/api/v1/payments/batch", {"reference": "b", "items": [item]}, format="json")
    live_batch = alice_live.post("/api/v1/payments/batch", {"reference": "b", "items": [item]}, format="json")
    assert (test_batch.status_code, live_batch.status_code) == (202, 202)
    assert test_batch.json()["id"] != live_batch.json()["id"]
    assert dict(PaymentBatch.objects.values_list("id", "mode")) == {
        test_batch.json()["id"]: "test",
        live_batch.json()["id"]: "live",
    }
    live_payment = Payment.objects.get(batch_id=live_batch.json()["id"])
    assert (live_payment.mode, live_payment.order.mode) == ("live", "live")
    assert Event.objects.get(object_id=live_payment.id).mode == "live"
    assert alice_live.get(f"/api/v1/payments/batch/{test_batch.json()['id']}").status_code == 404
    assert Order.objects.filter(mode="live").count() == 1
    # Completion and its event in the batch's mode; notifications in their event's.
    customer = alice_live.post("/api/v1/customers", {"email": "l@example.com"}, format="json").json()
    paid = alice_live.post(
        "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "a@b", "customer_id": customer["id"]}, format="json"
    ).json()
    payment_transition(payment_id=live_payment.id, to_status="success", source="test")
    payment_transition(payment_id=paid["id"], to_status="success", source="test")
    while outbox_dispatch_batch():
        pass
    assert Event.objects.get(type="batch.completed").mode == "live"
    assert Notification.objects.get(payment_id=paid["id"]).mode == "live"
    assert alice.client.get("/api/v1/notifications").json()["total"] == 0
    assert alice_live.get("/api/v1/notifications").json()["total"] == 1


@pytest.fixture
def smtp_free_settings(settings):
    settings.SMS_BACKEND = ""
