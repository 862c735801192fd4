"""Batch payments over the API, without a worker: 1,000 items accepted in one transaction
with bulk SQL, per-item rejections (shape and database checks) that do not stop the rest,
the batch reference as idempotency, no card numbers, the rate limit, the poll endpoint,
and completion: one batch.completed when the last payment ends, listing exactly the
failed items, even if the outbox hands the events over twice."""

from __future__ import annotations

import pytest
from django.db import connection

from payments.models import Event, Order, Payment, PaymentBatch, TimelineEntry
from payments.outbox import outbox_dispatch_batch
from payments.services.transitions import payment_transition
from tests.payments.conftest import card
from tests.payments.factories import OrderFactory
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


def post(tenant, body):
    return tenant.client.post("/api/v1/payments/batch", body, format="json")


def upi(index: int, **extra) -> dict:
    return {"reference": f"item-{index}", "amount": 1000 + index, "currency": "INR", "method": "upi",
            "vpa": "success@upi", **extra}  # fmt: skip


def dispatch_all() -> None:
    while outbox_dispatch_batch():
        pass


def test_a_thousand_items_become_pending_payments_in_bulk(alice, django_assert_max_num_queries):
    items = [upi(i) for i in range(1000)]
    with django_assert_max_num_queries(14):  # not per item: bulk statements
        response = post(alice, {"reference": "payroll-2026-12", "items": items})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) == {"id", "reference", "status", "total", "accepted", "rejected", "created_at"}
    assert body["id"].startswith("batch_") and body["reference"] == "payroll-2026-12"
    assert (body["status"], body["total"], body["accepted"], body["rejected"]) == ("processing", 1000, 1000, [])
    batch = PaymentBatch.objects.get()
    payments = Payment.objects.filter(batch=batch)
    assert payments.count() == 1000 and payments.filter(status="pending").count() == 1000
    assert sorted(payments.values_list("amount", flat=True)) == list(range(1000, 2000))
    assert Payment.objects.get(reference="item-7").amount == 1007
    assert Order.objects.filter(status="attempted").count() == 1000
    assert TimelineEntry.objects.filter(source="batch").count() == 1000
    created = Event.objects.filter(type="payment.created")
    assert created.count() == 1000
    snapshot = created.first().data["payment"]
    assert snapshot["batch_id"] == batch.id and snapshot["reference"].startswith("item-")


def test_bad_items_are_rejected_one_by_one_and_the_rest_accepted(alice, bob):
    customer = alice.client.post("/api/v1/customers", {"email": "a@example.com"}, format="json").json()
    methods = f"/api/v1/customers/{customer['id']}/payment-methods"
    saved = alice.client.post(methods, {"type": "card", "card": card()}, format="json").json()
    deleted = alice.client.post(methods, {"type": "upi", "vpa": "gone@bank"}, format="json").json()
    alice.client.delete(f"{methods}/{deleted['id']}")
    open_order = OrderFactory(merchant=alice.merchant, amount=7700)
    paid_order = OrderFactory(merchant=alice.merchant, amount=100, status="paid")
    bobs_order = OrderFactory(merchant=bob.merchant)
    post(alice, {"reference": "earlier", "items": [upi(0, reference="taken")]})
    items = [
        {"reference": "ok-order", "order_id": open_order.id, "vpa": "success@upi"},  # 0
        {"reference": "ok-saved", "amount": 5000, "payment_method_id": saved["id"], "customer_id": customer["id"]},
        {"reference": "card", "amount": 5000, "card": card()},  # 2
        upi(3, vpa="not-a-vpa"),
        upi(4, amount=99),
        {"reference": "both", "amount": 500, "order_id": open_order.id, "vpa": "a@b"},  # 5
        {"reference": "paid", "order_id": paid_order.id, "vpa": "a@b"},
        {"reference": "bobs", "order_id": bobs_order.id, "vpa": "a@b"},  # 7
        {"reference": "again", "order_id": open_order.id, "vpa": "a@b"},
        upi(9, reference="taken"),
        upi(10, reference="ok-order"),  # 10: repeated in this batch
        {"reference": "deleted", "amount": 500, "payment_method_id": deleted["id"]},
        "not an object",  # 12
        upi(13, reference="bad reference with spaces"),
        upi(14, currency="XXX"),
        upi(15),  # 15: fine
    ]
    response = post(alice, {"reference": "mixed", "items": items, "callback_url": "https://shop.example/done"})
    assert response.status_code == 202, response.json()
    body = response.json()
    reasons = {r["index"]: (r["reference"], r["error"]["code"], r["error"]["field"], r["error"]["reason"])
               for r in body["rejected"]}  # fmt: skip
    assert reasons == {
        2: ("card", "BAD_REQUEST_ERROR", "card", "card_not_allowed"),
        3: ("item-3", "INVALID_VPA", "vpa", "invalid_vpa"),
        4: ("item-4", "BAD_REQUEST_ERROR", "amount", "min_value"),
        5: ("both", "BAD_REQUEST_ERROR", "order_id", "required"),
        6: ("paid", "BAD_REQUEST_ERROR", "order_id", "order_already_paid"),
        7: ("bobs", "NOT_FOUND_ERROR", "order_id", None),
        8: ("again", "BAD_REQUEST_ERROR", "order_id", "duplicate_order"),
        9: ("taken", "BAD_REQUEST_ERROR", "reference", "duplicate_reference"),
        10: ("ok-order", "BAD_REQUEST_ERROR", "reference", "duplicate_reference"),
        11: ("deleted", "BAD_REQUEST_ERROR", "payment_method_id", "payment_method_deleted"),
        12: (None, "BAD_REQUEST_ERROR", None, "invalid_type"),
        13: ("bad reference with spaces", "BAD_REQUEST_ERROR", "reference", "invalid"),
        14: ("item-14", "BAD_REQUEST_ERROR", "currency", "invalid_currency"),
    }
    assert [r["index"] for r in body["rejected"]] == sorted(reasons)
    assert (body["total"], body["accepted"]) == (16, 3)
    by_reference = {p.reference: p for p in Payment.objects.filter(batch_id=body["id"])}
    assert set(by_reference) == {"ok-order", "ok-saved", "item-15"}
    assert (by_reference["ok-order"].amount, by_reference["ok-order"].order_id) == (7700, open_order.id)
    assert (by_reference["ok-saved"].method, by_reference["ok-saved"].card_last4) == ("card", "1111")
    assert by_reference["ok-saved"].customer_id == customer["id"]
    assert {p.callback_url for p in by_reference.values()} == {"https://shop.example/done"}
    bobs_order.refresh_from_db()
    assert bobs_order.status == "created"
    # The card item's number is nowhere: the rejection does not echo it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(b)::text FROM payment_batches b")
        assert all("4111" not in row for (row,) in cursor.fetchall())


def test_the_same_reference_returns_the_same_batch(alice, bob):
    first = post(alice, {"reference": "nightly", "items": [upi(1), upi(2)]})
    again = post(alice, {"reference": "nightly", "items": [upi(3), upi(4), upi(5)]})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 2
    other = post(bob, {"reference": "nightly", "items": [upi(1)]})  # another merchant's namespace
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"items": [upi(1)]}, "reference", "required"),
        ({"reference": "r", "items": []}, "items", "min_length"),
        ({"reference": "r", "items": [upi(i) for i in range(1001)]}, "items", "max_length"),
        ({"reference": "r", "items": {"a": 1}}, "items", "not_a_list"),
        (
            {"reference": "r", "items": [upi(1)], "callback_url": "ftp://files.example.com/x"},
            "callback_url",
            "invalid_url",
        ),
    ],
)
def test_a_bad_envelope_is_a_400_and_writes_nothing(alice, body, field, reason):
    response = post(alice, body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (error["field"], error["reason"]) == (field, reason)
    assert not PaymentBatch.objects.exists() and not Payment.objects.exists()


def test_batches_are_rate_limited_per_merchant(alice, bob, settings, redis_client):
    settings.BATCH_RATE_LIMIT_PER_HOUR = 2
    assert post(alice, {"reference": "a", "items": [upi(1)]}).status_code == 202
    assert post(alice, {"reference": "b", "items": [upi(2)]}).status_code == 202
    third = post(alice, {"reference": "c", "items": [upi(3)]})
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "RATE_LIMIT_ERROR" and 0 < int(third["Retry-After"]) <= 3600
    assert post(bob, {"reference": "a", "items": [upi(1)]}).status_code == 202  # alice's limit only
    assert not PaymentBatch.objects.filter(reference="c").exists()


def test_poll_counts_and_pages_and_completion_lists_exactly_the_failed(alice, bob):
    from tests.payments.test_contract import assert_conforms

    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/hooks", actor="test")
    items = [upi(i) for i in range(6)] + [upi(99, vpa="bad")]
    batch_id = post(alice, {"reference": "poll", "items": items}).json()["id"]
    url = f"/api/v1/payments/batch/{batch_id}"
    body = assert_conforms(alice.client.get(url, {"limit": 4}), "/api/v1/payments/batch/{batch_id}")
    assert (body["status"], body["total"], body["accepted"], body["rejected_count"]) == ("processing", 7, 6, 1)
    assert (body["success_count"], body["failed_count"], body["pending_count"]) == (0, 0, 6)
    assert (body["payments"]["total"], len(body["payments"]["data"]), body["completed_at"]) == (6, 4, None)
    assert bob.client.get(url).status_code == 404
    dispatch_all()
    payments = {p.reference: p.id for p in Payment.objects.filter(batch_id=batch_id)}
    outcomes = {"item-0": "success", "item-1": "failed", "item-2": "success", "item-3": "failed", "item-4": "success"}
    for reference, status in outcomes.items():
        payment_transition(
            payment_id=payments[reference], to_status=status, source="test",
            error_code="payment_declined" if status == "failed" else None,
        )  # fmt: skip
    dispatch_all()
    assert not Event.objects.filter(type="batch.completed").exists()  # item-5 is still pending
    assert alice.client.get(url).json()["pending_count"] == 1
    alice.client.post(f"/api/v1/payments/{payments['item-5']}/cancel")
    dispatch_all()
    [completed] = Event.objects.filter(type="batch.completed")
    data = completed.data["batch"]
    assert (data["id"], data["status"], data["version"]) == (batch_id, "completed", 2)
    assert (data["success_count"], data["failed_count"], data["pending_count"]) == (3, 3, 0)
    assert data["failed"] == [
        {"payment_id": payments["item-1"], "reference": "item-1", "status": "failed", "error_code": "payment_declined"},
        {"payment_id": payments["item-3"], "reference": "item-3", "status": "failed", "error_code": "payment_declined"},
        {"payment_id": payments["item-5"], "reference": "item-5", "status": "cancelled", "error_code": "cancelled"},
    ]
    assert [r["reference"] for r in data["rejected"]] == ["item-99"]
    # The outbox hands the final events over again: still one batch.completed.
    Event.objects.filter(type__in=["payment.success", "payment.failed", "payment.cancelled"]).update(dispatched_at=None)
    dispatch_all()
    assert Event.objects.filter(type="batch.completed").count() == 1
    polled = assert_conforms(alice.client.get(url), "/api/v1/payments/batch/{batch_id}")
    assert polled["status"] == "completed" and polled["completed_at"] is not None
    # Fanned out like every event: one webhook delivery for the merchant's endpoint.
    assert list(WebhookDelivery.objects.filter(event_type="batch.completed").values_list("endpoint_id", flat=True)) == [
        endpoint.id
    ]


def test_a_batch_with_no_valid_item_is_completed_at_once(alice):
    body = post(alice, {"reference": "nothing", "items": [upi(1, vpa="x"), upi(2, amount=1)]}).json()
    assert (body["status"], body["accepted"], len(body["rejected"])) == ("completed", 0, 2)
    [completed] = Event.objects.filter(type="batch.completed")
    assert completed.data["batch"]["failed"] == [] and len(completed.data["batch"]["rejected"]) == 2


def test_batch_responses_match_the_openapi_schema(alice):
    from tests.payments.test_contract import assert_conforms

    accepted = post(alice, {"reference": "s", "items": [upi(1), upi(2, vpa="x")]})
    assert_conforms(accepted, "/api/v1/payments/batch", "post")
    assert_conforms(post(alice, {"reference": "s", "items": [upi(1)]}), "/api/v1/payments/batch", "post")
    assert_conforms(post(alice, {"reference": "", "items": []}), "/api/v1/payments/batch", "post")
    missing = alice.client.get("/api/v1/payments/batch/batch_0000000000000000")
    assert_conforms(missing, "/api/v1/payments/batch/{batch_id}")


def test_an_item_cannot_pay_another_customers_order_with_its_own_saved_method(alice):
    """As a single create: an item naming a customer other than its order's is a 400
    ``customer_mismatch``, so one customer's saved card never pays another's order."""
    owner = alice.client.post("/api/v1/customers", {"email": "owner@example.com"}, format="json").json()
    other = alice.client.post("/api/v1/customers", {"email": "other@example.com"}, format="json").json()
    methods = f"/api/v1/customers/{other['id']}/payment-methods"
    saved = alice.client.post(methods, {"type": "card", "card": card()}, format="json").json()
    order = alice.client.post("/api/v1/orders", {"amount": 1000, "customer_id": owner["id"]}, format="json").json()
    items = [
        {"reference": "theirs", "order_id": order["id"], "payment_method_id": saved["id"], "customer_id": other["id"]}
    ]
    response = post(alice, {"reference": "cross-customer", "items": items})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["accepted"] == 0
    [rejected] = body["rejected"]
    assert (rejected["index"], rejected["error"]["field"], rejected["error"]["reason"]) == (
        0,
        "customer_id",
        "customer_mismatch",
    )
    assert not Payment.objects.filter(order_id=order["id"]).exists()
