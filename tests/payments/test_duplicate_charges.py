"""A charge for an order that is already paid: recorded ``duplicate`` (never ``failed``),
refunded in full automatically with reason ``duplicate_payment``, and told to the merchant
as such; the database still lets at most one payment per order keep the money."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from payments.models import Event, Order, Payment, Refund, SimulatorTransaction, TimelineEntry
from payments.services.charges import payment_charge_record
from payments.services.provider_events import provider_outcome_apply
from payments.services.refunds import refund_process
from tests.payments.factories import OrderFactory, PaymentFactory


def _attempts(merchant, count: int) -> tuple[Order, list[Payment]]:
    order = OrderFactory(merchant=merchant)
    return order, [PaymentFactory(order=order, method="upi" if i % 2 else "card") for i in range(count)]


@pytest.mark.django_db
def test_first_charge_pays_the_order_and_the_second_is_a_refunded_duplicate(alice, simulator):
    order, (first, second) = _attempts(alice.merchant, 2)
    assert payment_charge_record(payment_id=first.id, source="provider_webhook", detail="ok").obj.status == "success"
    moved = payment_charge_record(payment_id=second.id, source="provider_webhook", detail="Provider reported success")
    assert moved.changed
    second.refresh_from_db()
    assert (second.status, second.error_code) == ("duplicate", "duplicate_payment")
    assert second.error_description == (
        f"Order {order.id} was already paid by {first.id}; this charge is refunded in full automatically"
    )
    order.refresh_from_db()
    assert order.status == "paid"
    first.refresh_from_db()
    assert first.status == "success"

    (refund,) = Refund.objects.filter(payment=second)
    assert (refund.amount, refund.reason, refund.status) == (second.amount, "duplicate_payment", "pending")
    events = list(Event.objects.filter(object_id__in=[second.id, refund.id]).order_by("seq"))
    assert [(e.type, e.version) for e in events] == [("payment.duplicate", 2), ("refund.created", 1)]
    assert events[0].data["payment"]["status"] == "duplicate"
    assert events[1].data["refund"]["reason"] == "duplicate_payment"
    entry = TimelineEntry.objects.get(object_id=second.id)
    assert (entry.from_status, entry.to_status, entry.source) == ("pending", "duplicate", "provider_webhook")
    assert "already paid by" in entry.detail

    # A later or repeated report of the same charge changes nothing and refunds nothing twice.
    assert provider_outcome_apply(object_type="payment", object_id=second.id, status="success", source="x") == (
        "ignored",
        "payment already duplicate",
    )
    assert Refund.objects.filter(payment=second).count() == 1


@pytest.mark.django_db
def test_the_automatic_refund_reaches_the_provider_and_is_processed(alice, simulator):
    _, (first, second) = _attempts(alice.merchant, 2)
    payment_charge_record(payment_id=first.id, source="status_poll", detail="ok")
    payment_charge_record(payment_id=second.id, source="status_poll", detail="ok")
    refund = Refund.objects.get(payment=second)
    refund_process(refund_id=refund.id)
    ledger = SimulatorTransaction.objects.get(kind="refund", refund_id=refund.id)
    assert (ledger.payment_id, ledger.amount, ledger.outcome) == (second.id, second.amount, "processed")
    provider_outcome_apply(object_type="refund", object_id=refund.id, status="processed", source="provider_webhook")
    refund.refresh_from_db()
    assert refund.status == "processed"
    types = list(Event.objects.filter(object_id=refund.id).order_by("seq").values_list("type", flat=True))
    assert types == ["refund.created", "refund.processed"]


@pytest.mark.django_db
def test_a_duplicate_has_nothing_left_to_refund_by_hand(alice, simulator):
    _, (first, second) = _attempts(alice.merchant, 2)
    payment_charge_record(payment_id=first.id, source="x", detail="ok")
    payment_charge_record(payment_id=second.id, source="x", detail="ok")
    response = alice.client.post(f"/api/v1/payments/{second.id}/refunds", {"amount": 100}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "refund_exceeds_available"
    body = alice.client.get(f"/api/v1/payments/{second.id}").json()
    assert (body["status"], body["error_code"]) == ("duplicate", "duplicate_payment")
    listed = alice.client.get("/api/v1/payments", {"status": "duplicate"}).json()
    assert [p["id"] for p in listed["data"]] == [second.id]


@pytest.mark.django_db
def test_the_schema_still_allows_one_success_per_order(alice):
    _, (first, second) = _attempts(alice.merchant, 2)
    Payment.objects.filter(pk=first.pk).update(status="success")
    Payment.objects.filter(pk=second.pk).update(status="duplicate")  # charged, but not kept
    with pytest.raises(IntegrityError, match="payments_one_success_per_order"), transaction.atomic():
        Payment.objects.filter(pk=second.pk).update(status="success")


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_charges_of_one_order_keep_the_money_once(alice, simulator):
    order, payments = _attempts(alice.merchant, 5)
    barrier = threading.Barrier(len(payments))
    errors: list[BaseException] = []

    def charge(payment_id: str) -> None:
        try:
            barrier.wait(timeout=10)
            provider_outcome_apply(object_type="payment", object_id=payment_id, status="success", source="x")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=charge, args=(p.id,)) for p in payments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    statuses = sorted(Payment.objects.filter(order=order).values_list("status", flat=True))
    assert statuses == ["duplicate"] * 4 + ["success"]
    duplicates = Payment.objects.filter(order=order, status="duplicate")
    refunds = Refund.objects.filter(payment__order=order)
    assert sorted(refunds.values_list("payment_id", flat=True)) == sorted(duplicates.values_list("id", flat=True))
    assert all(r.amount == order.amount and r.reason == "duplicate_payment" for r in refunds)
    assert Order.objects.get(pk=order.pk).status == "paid"


@pytest.mark.django_db
def test_a_duplicate_whose_automatic_refund_failed_can_be_refunded_again(alice, simulator):
    _, (first, second) = _attempts(alice.merchant, 2)
    payment_charge_record(payment_id=first.id, source="x", detail="ok")
    payment_charge_record(payment_id=second.id, source="x", detail="ok")
    automatic = Refund.objects.get(payment=second)
    provider_outcome_apply(object_type="refund", object_id=automatic.id, status="failed", source="provider_webhook")
    response = alice.client.post(f"/api/v1/payments/{second.id}/refunds", {"amount": second.amount}, format="json")
    assert response.status_code == 201
    assert Refund.objects.filter(payment=second, status="pending").count() == 1
