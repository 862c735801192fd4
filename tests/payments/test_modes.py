"""Test and live are separate worlds: every order, payment, refund and event carries the
mode of the key that made it (or of its parent), a test key never sees or changes a live
object and a live key never a test one (404, nothing written), idempotency keys do not
cross worlds, the simulator's test instruments mean nothing for live payments, and a live
key on the simulator is refused unless SIMULATOR_ALLOW_LIVE_KEYS."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.models import ApiKey, Event, Order, Payment, Refund, SimulatorTransaction
from payments.services.api_keys import api_key_create
from payments.services.payments import payment_process
from payments.services.transitions import payment_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_allowed(settings):
    settings.SIMULATOR_ALLOW_LIVE_KEYS = True


@pytest.fixture
def alice_live(alice, live_allowed) -> APIClient:
    """Alice's own live key: the same merchant, the other world."""
    issued = api_key_create(merchant=alice.merchant, mode=ApiKey.Mode.LIVE)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key.key_id, HTTP_X_API_SECRET=issued.secret)
    return client


def create_order(client, amount=50000):
    response = client.post("/api/v1/orders", {"amount": amount, "currency": "INR"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def create_payment(client, order_id, vpa="user@okhdfc"):
    response = client.post("/api/v1/payments", {"order_id": order_id, "method": "upi", "vpa": vpa}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def settled_payment(client) -> str:
    payment_id = create_payment(client, create_order(client))
    payment_transition(payment_id=payment_id, to_status="success", source="test")
    return payment_id


def test_a_live_key_on_the_simulator_is_refused_unless_allowed(alice, settings):
    issued = api_key_create(merchant=alice.merchant, mode=ApiKey.Mode.LIVE)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key.key_id, HTTP_X_API_SECRET=issued.secret)
    refused = client.post("/api/v1/orders", {"amount": 50000}, format="json")
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert (error["code"], error["reason"]) == ("AUTHENTICATION_ERROR", "live_key_on_simulator")
    assert "SIMULATOR_ALLOW_LIVE_KEYS" in error["description"]
    assert not Order.objects.exists()
    settings.SIMULATOR_ALLOW_LIVE_KEYS = True
    assert client.post("/api/v1/orders", {"amount": 50000}, format="json").status_code == 201


def test_every_object_carries_the_mode_of_the_key_that_made_it(alice, alice_live):
    live_payment = settled_payment(alice_live)
    refund = alice_live.post(f"/api/v1/payments/{live_payment}/refunds", {"amount": 100}, format="json")
    assert refund.status_code == 201, refund.content
    implicit = alice_live.post("/api/v1/payments", {"amount": 700, "method": "upi", "vpa": "a@upi"}, format="json")
    assert implicit.status_code == 201, implicit.content
    test_payment = settled_payment(alice.client)

    live = Payment.objects.get(pk=live_payment)
    assert (live.mode, live.order.mode) == ("live", "live")
    assert Refund.objects.get(pk=refund.json()["id"]).mode == "live"
    implicit_payment = Payment.objects.get(pk=implicit.json()["id"])
    assert (implicit_payment.mode, implicit_payment.order.mode) == ("live", "live")
    assert set(
        Event.objects.filter(object_id__in=[live_payment, refund.json()["id"]]).values_list("mode", flat=True)
    ) == {"live"}
    assert Payment.objects.get(pk=test_payment).mode == "test"
    assert set(Event.objects.filter(object_id=test_payment).values_list("mode", flat=True)) == {"test"}


@pytest.mark.parametrize("direction", ["test_key_on_live", "live_key_on_test"])
def test_a_key_never_sees_or_changes_the_other_worlds_objects(alice, alice_live, direction):
    owner, other = (alice_live, alice.client) if direction == "test_key_on_live" else (alice.client, alice_live)
    order_id = create_order(owner)
    payment_id = settled_payment(owner)
    refund_id = owner.post(f"/api/v1/payments/{payment_id}/refunds", {"amount": 100}, format="json").json()["id"]
    pending_id = create_payment(owner, create_order(owner))
    counts = (Order.objects.count(), Payment.objects.count(), Refund.objects.count(), Event.objects.count())

    for path in (
        f"/api/v1/orders/{order_id}",
        f"/api/v1/payments/{payment_id}",
        f"/api/v1/refunds/{refund_id}",
    ):
        response = other.get(path)
        assert response.status_code == 404, (path, response.content)
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    for path in ("/api/v1/orders", "/api/v1/payments", "/api/v1/refunds"):  # events: below, committed
        listed = other.get(path)
        assert listed.status_code == 200, (path, listed.content)
        for object_id in (order_id, payment_id, refund_id, pending_id):
            assert object_id not in listed.content.decode(), (path, object_id)
        assert owner_sees(owner, path, payment_id if path != "/api/v1/orders" else order_id)
    writes = [
        other.post("/api/v1/payments", {"order_id": order_id, "method": "upi", "vpa": "a@upi"}, format="json"),
        other.post(f"/api/v1/payments/{payment_id}/refunds", {"amount": 100}, format="json"),
        other.post(f"/api/v1/payments/{pending_id}/cancel", {}, format="json"),
        other.post(f"/api/v1/payments/{payment_id}/capture", {"amount": 50000}, format="json"),
    ]
    assert [w.status_code for w in writes] == [404, 404, 404, 404], [w.content for w in writes]
    assert (Order.objects.count(), Payment.objects.count(), Refund.objects.count(), Event.objects.count()) == counts
    assert Payment.objects.get(pk=pending_id).status == "pending"
    assert owner.get(f"/api/v1/payments/{payment_id}").status_code == 200  # its own world still sees it


def owner_sees(client, path: str, object_id: str) -> bool:
    """The listing is not empty for the wrong reason: the owner's world lists the object."""
    return object_id in client.get(path).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_events_api_lists_only_the_keys_world(alice, alice_live):
    """Committed events (the events API shows a hole-free prefix of committed ones)."""
    live_payment = settled_payment(alice_live)
    test_payment = settled_payment(alice.client)
    live_events = alice_live.get("/api/v1/events").content.decode()
    test_events = alice.client.get("/api/v1/events").content.decode()
    assert live_payment in live_events and test_payment not in live_events
    assert test_payment in test_events and live_payment not in test_events
    live_event = Event.objects.filter(object_id=live_payment).first()
    assert alice.client.get(f"/api/v1/events/{live_event.id}").status_code == 404
    assert alice_live.get(f"/api/v1/events/{live_event.id}").status_code == 200


def test_the_same_idempotency_key_in_the_other_world_is_a_new_request(alice, alice_live):
    body = {"amount": 50000, "currency": "INR"}
    first = alice.client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    again = alice.client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    live = alice_live.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == live.status_code == 201
    assert again.json()["id"] == first.json()["id"]  # replayed in its own world
    assert live.json()["id"] != first.json()["id"]  # never the test world's answer
    assert Order.objects.get(pk=live.json()["id"]).mode == "live"


def test_simulator_test_instruments_mean_nothing_for_live_payments(alice, alice_live, simulator, settings):
    """TEST_MODE decides non-instrument payments by TEST_PAYMENT_SUCCESS (on in tests): a live
    payment with the test VPA ``failure@upi`` is such an ordinary payment and succeeds, while
    the same VPA in test mode is the documented decline."""
    live = create_payment(alice_live, create_order(alice_live), vpa="failure@upi")
    test = create_payment(alice.client, create_order(alice.client), vpa="failure@upi")
    payment_process(payment_id=live)
    payment_process(payment_id=test)
    assert SimulatorTransaction.objects.get(payment_id=test).outcome == "failed"
    assert SimulatorTransaction.objects.get(payment_id=live).outcome == "success"


def test_public_checkout_payment_lives_in_its_orders_world(alice, alice_live, anon):
    order_id = create_order(alice_live)
    response = anon.post(
        "/api/v1/payments/public", {"order_id": order_id, "method": "upi", "vpa": "a@upi"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Payment.objects.get(pk=response.json()["id"]).mode == "live"
    assert alice.client.get(f"/api/v1/payments/{response.json()['id']}").status_code == 404
    assert alice_live.get(f"/api/v1/payments/{response.json()['id']}").status_code == 200


@pytest.mark.parametrize("direction", ["test_key_on_live", "live_key_on_test"])
def test_customers_and_saved_methods_belong_to_one_world(alice, alice_live, direction):
    from payments.models import Customer, SavedPaymentMethod

    owner, other = (alice_live, alice.client) if direction == "test_key_on_live" else (alice.client, alice_live)
    created = owner.post("/api/v1/customers", {"email": "c@example.com", "name": "C"}, format="json")
    assert created.status_code == 201, created.content
    customer_id = created.json()["id"]
    saved = owner.post(
        f"/api/v1/customers/{customer_id}/payment-methods", {"type": "upi", "vpa": "c@upi"}, format="json"
    )
    assert saved.status_code == 201, saved.content
    method_id = saved.json()["id"]
    owner_mode = "live" if direction == "test_key_on_live" else "test"
    assert Customer.objects.get(pk=customer_id).mode == owner_mode
    assert SavedPaymentMethod.objects.get(pk=method_id).mode == owner_mode
    counts = (
        Customer.objects.count(),
        SavedPaymentMethod.objects.count(),
        Order.objects.count(),
        Payment.objects.count(),
    )

    assert other.get(f"/api/v1/customers/{customer_id}").status_code == 404
    assert other.get(f"/api/v1/customers/{customer_id}/payment-methods").status_code == 404
    assert customer_id not in other.get("/api/v1/customers").content.decode()
    assert customer_id in owner.get("/api/v1/customers").content.decode()
    refused = [
        other.post("/api/v1/orders", {"amount": 50000, "customer_id": customer_id}, format="json"),
        other.post(
            "/api/v1/payments",
            {"amount": 50000, "method": "upi", "customer_id": customer_id, "payment_method_id": method_id},
            format="json",
        ),
        other.post(f"/api/v1/customers/{customer_id}/payment-methods", {"type": "upi", "vpa": "x@upi"}, format="json"),
    ]
    assert [r.status_code for r in refused] == [404, 404, 404], [r.content for r in refused]
    after = (
        Customer.objects.count(),
        SavedPaymentMethod.objects.count(),
        Order.objects.count(),
        Payment.objects.count(),
    )
    assert after == counts


# --- webhook endpoints belong to one world -------------------------------------------------


def test_webhook_endpoints_and_their_deliveries_belong_to_one_world(alice, alice_live):
    from payments.outbox import outbox_dispatch_all
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    live_endpoint = alice_live.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/live"}, format="json")
    test_endpoint = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/test"}, format="json")
    assert live_endpoint.status_code == test_endpoint.status_code == 201
    live_id, test_id = live_endpoint.json()["id"], test_endpoint.json()["id"]
    assert WebhookEndpoint.objects.get(pk=live_id).mode == "live"
    assert WebhookEndpoint.objects.get(pk=test_id).mode == "test"

    # A key neither lists nor changes the other world's endpoint.
    assert live_id not in alice.client.get("/api/v1/webhook-endpoints").content.decode()
    assert test_id not in alice_live.get("/api/v1/webhook-endpoints").content.decode()
    for response in (
        alice.client.get(f"/api/v1/webhook-endpoints/{live_id}"),
        alice.client.post(f"/api/v1/webhook-endpoints/{live_id}/rotate-secret", {}, format="json"),
        alice.client.delete(f"/api/v1/webhook-endpoints/{live_id}"),
    ):
        assert response.status_code == 404, response.content
    assert WebhookEndpoint.objects.get(pk=live_id).deleted_at is None

    # Each world's events reach only that world's endpoints.
    live_payment = create_payment(alice_live, create_order(alice_live))
    test_payment = create_payment(alice.client, create_order(alice.client))
    outbox_dispatch_all()
    delivered = set(WebhookDelivery.objects.values_list("endpoint_id", "event__object_id"))
    assert delivered == {(live_id, live_payment), (test_id, test_payment)}
    live_delivery = WebhookDelivery.objects.get(endpoint_id=live_id).id
    test_delivery = WebhookDelivery.objects.get(endpoint_id=test_id).id
    test_listing = alice.client.get("/api/v1/webhooks").content.decode()
    live_listing = alice_live.get("/api/v1/webhooks").content.decode()
    assert test_delivery in test_listing and live_delivery not in test_listing
    assert live_delivery in live_listing and test_delivery not in live_listing
    assert alice.client.get(f"/api/v1/webhooks/{live_delivery}").status_code == 404
    assert alice.client.post(f"/api/v1/webhooks/{live_delivery}/retry", {}, format="json").status_code == 404


def test_the_callback_signature_uses_the_default_endpoint_of_the_payments_world(alice, alice_live):
    from realtime.checkout import callback_signature, checkout_redirect_url
    from webhooks.services.endpoints import endpoint_default_get_or_create

    test_default = endpoint_default_get_or_create(merchant=alice.merchant)  # no key acting: test world
    live_merchant = type(alice.merchant).objects.get(pk=alice.merchant.pk)
    live_merchant.acting_mode = "live"
    live_default = endpoint_default_get_or_create(merchant=live_merchant)
    assert (test_default.mode, live_default.mode) == ("test", "live") and test_default.pk != live_default.pk

    payment_id = settled_payment(alice_live)
    payment = Payment.objects.get(pk=payment_id)
    Payment.objects.filter(pk=payment_id).update(callback_url="https://shop.example/return")
    payment.refresh_from_db()
    url = checkout_redirect_url(payment=payment)
    expected = callback_signature(
        secret=live_default.secret,
        order_id=payment.order_id,
        payment_id=payment.id,
        status="success",
        amount=payment.amount,
        currency=payment.currency,
    )
    assert url.endswith(f"signature={expected}")
