"""Capture, cancel and refund rules, and tenancy on each endpoint."""

import pytest
from django.utils import timezone

from payments.models import Event, Refund, TimelineEntry
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory, SuccessfulPaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(alice):
    return SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000))


def test_capture_success_payment_once(alice, paid):
    response = alice.client.post(f"/api/v1/payments/{paid.id}/capture")
    assert response.status_code == 200
    assert response.json()["captured"] is True
    assert response.json()["version"] == paid.version + 1
    event = Event.objects.get()
    assert (event.type, event.version) == ("payment.captured", paid.version + 1)
    again = alice.client.post(f"/api/v1/payments/{paid.id}/capture")
    assert again.status_code == 400
    assert again.json()["error"]["reason"] == "payment_already_captured"
    assert Event.objects.count() == 1


@pytest.mark.parametrize("status", ["pending", "failed", "cancelled"])
def test_capture_non_success_is_400(alice, status):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status=status)
    response = alice.client.post(f"/api/v1/payments/{payment.id}/capture")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "payment_not_capturable"
    payment.refresh_from_db()
    assert payment.captured is False


def test_capture_other_merchant_is_404(bob, paid):
    assert bob.client.post(f"/api/v1/payments/{paid.id}/capture").status_code == 404
    paid.refresh_from_db()
    assert paid.captured is False


def test_cancel_before_submission(alice):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    response = alice.client.post(f"/api/v1/payments/{payment.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["version"] == 2
    assert TimelineEntry.objects.get().to_status == "cancelled"
    assert Event.objects.get().type == "payment.cancelled"


def test_cancel_after_submission_is_409(alice):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), submitted_at=timezone.now())
    response = alice.client.post(f"/api/v1/payments/{payment.id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT_ERROR"
    assert response.json()["error"]["reason"] == "payment_already_submitted"
    payment.refresh_from_db()
    assert payment.status == "pending"


@pytest.mark.parametrize("status", ["success", "failed", "cancelled"])
def test_cancel_final_payment_is_409(alice, status):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status=status)
    response = alice.client.post(f"/api/v1/payments/{payment.id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["reason"] == "payment_not_cancellable"


def test_cancel_other_merchant_is_404(alice, bob):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    assert bob.client.post(f"/api/v1/payments/{payment.id}/cancel").status_code == 404
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_refund_created_pending_with_exact_body(alice, paid):
    response = alice.client.post(
        f"/api/v1/payments/{paid.id}/refunds", {"amount": 4000, "reason": "damaged"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "payment_id", "amount", "reason", "status", "created_at"}
    assert body["id"].startswith("rfnd_") and len(body["id"]) == 21
    assert (body["payment_id"], body["amount"], body["reason"], body["status"]) == (paid.id, 4000, "damaged", "pending")
    event = Event.objects.get()
    assert (event.type, event.object_id, event.version) == ("refund.created", body["id"], 1)
    got = alice.client.get(f"/api/v1/refunds/{body['id']}").json()
    assert got["status"] == "pending"
    assert got["processed_at"] is None


def test_refund_alias_with_payment_id_in_body(alice, paid):
    response = alice.client.post("/api/v1/refunds", {"payment_id": paid.id, "amount": 10000}, format="json")
    assert response.status_code == 201
    assert response.json()["amount"] == 10000


def test_refund_alias_requires_payment_id(alice):
    response = alice.client.post("/api/v1/refunds", {"amount": 100}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "payment_id"


def test_refunds_cannot_exceed_payment(alice, paid):
    RefundFactory(payment=paid, amount=6000, status="processed")
    RefundFactory(payment=paid, amount=3000, status="pending")
    RefundFactory(payment=paid, amount=5000, status="failed")  # failed refunds give the amount back
    response = alice.client.post(f"/api/v1/payments/{paid.id}/refunds", {"amount": 1001}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert response.json()["error"]["reason"] == "refund_exceeds_available"
    ok = alice.client.post(f"/api/v1/payments/{paid.id}/refunds", {"amount": 1000}, format="json")
    assert ok.status_code == 201
    assert Refund.objects.count() == 4


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"amount": 0}, "amount_too_small"),
        ({"amount": "5"}, "invalid_type"),
        ({}, "required"),
        ({"amount": 1, "reason": 5}, "invalid_type"),
    ],
)
def test_bad_refund_input(alice, paid, body, reason):
    response = alice.client.post(f"/api/v1/payments/{paid.id}/refunds", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == reason
    assert Refund.objects.count() == 0


@pytest.mark.parametrize("status", ["pending", "failed", "cancelled"])
def test_refund_of_non_success_payment_is_400(alice, status):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status=status)
    response = alice.client.post(f"/api/v1/payments/{payment.id}/refunds", {"amount": 100}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "payment_not_refundable"


def test_refund_other_merchant_is_404_everywhere(alice, bob, paid):
    assert bob.client.post(f"/api/v1/payments/{paid.id}/refunds", {"amount": 100}, format="json").status_code == 404
    assert bob.client.post("/api/v1/refunds", {"payment_id": paid.id, "amount": 100}, format="json").status_code == 404
    assert Refund.objects.count() == 0
    refund = RefundFactory(payment=paid)
    assert bob.client.get(f"/api/v1/refunds/{refund.id}").status_code == 404
    assert alice.client.get(f"/api/v1/refunds/{refund.id}").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_long_poll_wakes_up_on_a_change(alice):
    import threading
    import time

    from django.db import connection

    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    result: dict = {}

    def poll():
        try:
            started = time.monotonic()
            result["body"] = alice.client.get(f"/api/v1/payments/{payment.id}/status?wait=20&after_version=1").json()
            result["elapsed"] = time.monotonic() - started
        finally:
            connection.close()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)  # give the poll time to start waiting; elapsed >= 0.4 below proves it did
    cancelled = time.monotonic()
    assert alice.client.post(f"/api/v1/payments/{payment.id}/cancel").status_code == 200
    thread.join(25)
    assert result["body"]["status"] == "cancelled"
    assert result["body"]["version"] == 2
    assert 0.4 <= result["elapsed"] < 5  # it waited, and woke on the change long before 20 s
    assert time.monotonic() - cancelled < 2
