"""Idempotency-Key on every mutating endpoint: replay byte for byte, reuse with another
body or path, in-flight 409, stale and expired claims, error responses release the key."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from payments.models import IdempotencyKey, Order, Payment, Refund
from payments.services.idempotency import idempotency_keys_purge, idempotency_request_hash
from tests.payments.factories import OrderFactory, SuccessfulPaymentFactory

pytestmark = pytest.mark.django_db


def post(tenant, path, body, key):
    return tenant.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_same_status_and_bytes_once(alice):
    body = {"amount": 1000, "method": "upi", "vpa": "a@b"}
    first = post(alice, "/api/v1/payments", body, "key-1")
    second = post(alice, "/api/v1/payments", body, "key-1")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Payment.objects.count() == 1
    assert Order.objects.count() == 1
    stored = IdempotencyKey.objects.get()
    assert stored.state == "completed"
    assert bytes(stored.response_body) == first.content
    assert stored.expires_at - stored.created_at == timedelta(hours=24)


def test_key_order_of_json_fields_does_not_matter(alice):
    first = post(alice, "/api/v1/orders", {"amount": 500, "receipt": "r"}, "k")
    second = alice.client.generic(
        "POST",
        "/api/v1/orders",
        b'{"receipt": "r",   "amount": 500}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert second.status_code == 201
    assert second.content == first.content
    assert Order.objects.count() == 1


def test_same_key_different_body_is_400_reused(alice):
    post(alice, "/api/v1/orders", {"amount": 500}, "k")
    response = post(alice, "/api/v1/orders", {"amount": 501}, "k")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert response.json()["error"]["reason"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_same_key_different_path_is_400_reused(alice):
    post(alice, "/api/v1/orders", {"amount": 500}, "k")
    # A valid body: the request serializer refuses a bad one before the key is looked at.
    response = post(alice, "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "a@upi"}, "k")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "idempotency_key_reused"


def test_keys_are_merchant_scoped(alice, bob):
    a = post(alice, "/api/v1/orders", {"amount": 500}, "shared")
    b = post(bob, "/api/v1/orders", {"amount": 500}, "shared")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["merchant_id"] == str(bob.merchant.id)


def test_error_response_releases_the_key(alice):
    bad = post(alice, "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "bad"}, "k")
    assert bad.status_code == 400
    assert IdempotencyKey.objects.count() == 0
    good = post(alice, "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "a@b"}, "k")
    assert good.status_code == 201


def test_in_flight_key_is_409_with_retry_after(alice):
    body = {"amount": 500}
    IdempotencyKey.objects.create(
        merchant=alice.merchant,
        key="k",
        request_method="POST",
        request_path="/api/v1/orders",
        request_hash=idempotency_request_hash(method="POST", path="/api/v1/orders", body=body),
        locked_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    response = post(alice, "/api/v1/orders", body, "k")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT_ERROR"
    assert response["Retry-After"] == "1"
    assert Order.objects.count() == 0


def test_stale_in_flight_claim_is_taken_over(alice):
    body = {"amount": 500}
    IdempotencyKey.objects.create(
        merchant=alice.merchant,
        key="k",
        request_method="POST",
        request_path="/api/v1/orders",
        request_hash=idempotency_request_hash(method="POST", path="/api/v1/orders", body=body),
        locked_at=timezone.now() - timedelta(seconds=31),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    response = post(alice, "/api/v1/orders", body, "k")
    assert response.status_code == 201
    assert IdempotencyKey.objects.get().state == "completed"


def test_expired_key_may_be_used_again(alice):
    first = post(alice, "/api/v1/orders", {"amount": 500}, "k")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    second = post(alice, "/api/v1/orders", {"amount": 600}, "k")
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


def test_purge_deletes_only_expired_keys(alice):
    post(alice, "/api/v1/orders", {"amount": 500}, "old")
    post(alice, "/api/v1/orders", {"amount": 500}, "new")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(minutes=1))
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_invalid_key_is_400(alice):
    response = post(alice, "/api/v1/orders", {"amount": 500}, "x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "invalid_idempotency_key"


def test_request_hash_is_keyed_and_hides_the_body():
    digest = idempotency_request_hash(method="POST", path="/p", body={"card": {"number": "4111111111111111"}})
    assert len(digest) == 64
    assert "4111" not in digest


def test_refund_capture_cancel_replay(alice):
    payment = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000))
    r1 = post(alice, f"/api/v1/payments/{payment.id}/refunds", {"amount": 100}, "r")
    r2 = post(alice, f"/api/v1/payments/{payment.id}/refunds", {"amount": 100}, "r")
    assert r1.status_code == r2.status_code == 201
    assert r1.content == r2.content
    assert Refund.objects.count() == 1
    c1 = post(alice, f"/api/v1/payments/{payment.id}/capture", {}, "c")
    c2 = post(alice, f"/api/v1/payments/{payment.id}/capture", {}, "c")
    assert c1.status_code == c2.status_code == 200
    assert c1.content == c2.content
    pending = Payment.objects.create(
        merchant=alice.merchant, order=OrderFactory(merchant=alice.merchant), amount=500, currency="INR", method="upi"
    )
    x1 = post(alice, f"/api/v1/payments/{pending.id}/cancel", {}, "x")
    x2 = post(alice, f"/api/v1/payments/{pending.id}/cancel", {}, "x")
    assert x1.status_code == x2.status_code == 200
    assert x1.content == x2.content
    assert x1.json()["status"] == "cancelled"


def test_public_checkout_keys_do_not_collide_with_merchant_keys(alice, anon):
    order = OrderFactory(merchant=alice.merchant)
    merchant_side = post(alice, "/api/v1/orders", {"amount": 500}, "k")
    public = anon.post(
        "/api/v1/payments/public",
        {"order_id": order.id, "method": "upi", "vpa": "a@b"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    replay = anon.post(
        "/api/v1/payments/public",
        {"order_id": order.id, "method": "upi", "vpa": "a@b"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert merchant_side.status_code == public.status_code == replay.status_code == 201
    assert replay.content == public.content
    assert sorted(IdempotencyKey.objects.values_list("key", flat=True)) == ["checkout:k", "k"]


@pytest.mark.django_db(transaction=True)
def test_owner_whose_claim_was_taken_over_rolls_back(alice):
    """A slow first request whose stale claim another request took over must not commit."""
    from common.errors import Conflict
    from payments.services.idempotency import idempotent_execute
    from payments.services.orders import order_create

    def slow_handler():
        order_create(merchant=alice.merchant, amount=500)

        def take_over():  # another process reclaims the stale key: a new locked_at token
            try:
                IdempotencyKey.objects.update(locked_at=timezone.now() + timedelta(seconds=1))
            finally:
                connection.close()

        thread = threading.Thread(target=take_over)
        thread.start()
        thread.join()
        return 201, b"{}"

    with pytest.raises(Conflict):
        idempotent_execute(
            merchant=alice.merchant, key="k", method="POST", path="/x", request_hash="h", handler=slow_handler
        )
    assert Order.objects.count() == 0
    assert IdempotencyKey.objects.get().state == "in_flight"  # the new owner's claim is untouched
