"""An order's optional ``callback_url``: validated on create, returned in the order
snapshot, inherited by the order's payments (the hosted checkout's public create takes none
from its anonymous caller), while an authenticated payment's own callback_url wins."""

import pytest

from payments.models import Event, Order, Payment
from tests.realtime.helpers import settle

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example/return?cart=7"


def order_with_callback(tenant, callback_url=SHOP) -> dict:
    response = tenant.client.post("/api/v1/orders", {"amount": 50000, "callback_url": callback_url}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_order_create_stores_and_returns_callback_url(alice):
    body = order_with_callback(alice)
    assert body["callback_url"] == SHOP
    assert Order.objects.get(pk=body["id"]).callback_url == SHOP
    assert alice.client.get(f"/api/v1/orders/{body['id']}").json()["callback_url"] == SHOP
    assert alice.client.get("/api/v1/orders").json()["data"][0]["callback_url"] == SHOP


def test_public_order_view_does_not_show_the_callback_url(alice, anon):
    body = order_with_callback(alice)
    assert "callback_url" not in anon.get(f"/api/v1/orders/{body['id']}/public").json()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ftp://shop.example/x", "invalid_url"),
        ("javascript:alert(1)", "invalid_url"),
        ("https://", "invalid_url"),
        ("shop.example/return", "invalid_url"),
        (5, "invalid_type"),
        ({"url": SHOP}, "invalid_type"),
        ("https://shop.example/" + "x" * 2048, "invalid_type"),
    ],
)
def test_bad_callback_url_is_400_in_the_envelope_and_writes_nothing(alice, value, reason):
    response = alice.client.post("/api/v1/orders", {"amount": 50000, "callback_url": value}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", "callback_url", reason)
    assert error["correlation_id"]
    assert Order.objects.count() == 0


def test_public_checkout_payment_inherits_the_orders_callback_url(alice, anon):
    order = order_with_callback(alice)
    response = anon.post(
        "/api/v1/payments/public", {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Payment.objects.get(pk=response.json()["id"]).callback_url == SHOP


def test_public_caller_cannot_choose_the_callback_url(alice, anon):
    """The anonymous checkout caller only holds the order id; the redirect target (which
    carries the merchant's signature) is the merchant's to choose."""
    order = order_with_callback(alice)
    body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
    response = anon.post("/api/v1/payments/public", {**body, "callback_url": "https://evil.example/"}, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["reason"]) == ("callback_url", "unknown_field")
    assert not Payment.objects.filter(order_id=order["id"]).exists()
    response = anon.post("/api/v1/payments/public", body, format="json")
    assert Payment.objects.get(pk=response.json()["id"]).callback_url == SHOP
    without = alice.client.post("/api/v1/orders", {"amount": 50000}, format="json").json()
    response = anon.post("/api/v1/payments/public", {**body, "order_id": without["id"]}, format="json")
    assert Payment.objects.get(pk=response.json()["id"]).callback_url is None


def test_authenticated_payment_callback_url_takes_precedence_else_inherits(alice):
    order = order_with_callback(alice)
    own = "https://shop.example/own"
    response = alice.client.post(
        "/api/v1/payments",
        {"order_id": order["id"], "method": "upi", "vpa": "a@upi", "callback_url": own},
        format="json",
    )
    assert Payment.objects.get(pk=response.json()["id"]).callback_url == own
    response = alice.client.post(
        "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}, format="json"
    )
    assert Payment.objects.get(pk=response.json()["id"]).callback_url == SHOP


def test_other_merchant_cannot_see_or_pay_the_order_and_its_own_orders_are_unaffected(alice, bob):
    order = order_with_callback(alice)
    assert bob.client.get(f"/api/v1/orders/{order['id']}").status_code == 404
    response = bob.client.post(
        "/api/v1/payments",
        {"order_id": order["id"], "method": "upi", "vpa": "a@upi", "callback_url": "https://bob.example/"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert Payment.objects.count() == 0 and Event.objects.count() == 0
    assert Order.objects.get(pk=order["id"]).callback_url == SHOP
    bobs = bob.client.post("/api/v1/orders", {"amount": 700}, format="json").json()
    assert bobs["callback_url"] is None
    assert [o["callback_url"] for o in bob.client.get("/api/v1/orders").json()["data"]] == [None]


def test_checkout_status_redirects_to_the_inherited_callback_url(alice, anon):
    order = order_with_callback(alice)
    created = anon.post(
        "/api/v1/payments/public", {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}, format="json"
    ).json()
    settle(Payment.objects.get(pk=created["id"]), "success")
    url = anon.get(f"/checkout/payments/{created['id']}").json()["redirect_url"]
    assert url.startswith(f"{SHOP}&payment_id={created['id']}&order_id={order['id']}&status=success")
