"""Orders API: create, get, list, public get, validation and tenancy."""

import pytest

from payments.ids import is_public_id
from payments.models import Order

pytestmark = pytest.mark.django_db


def test_create_order_returns_201_with_contract_fields(alice):
    response = alice.client.post(
        "/api/v1/orders", {"amount": 50000, "currency": "INR", "receipt": "r1", "notes": {"a": "b"}}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert is_public_id(body["id"], "order")
    assert body["merchant_id"] == str(alice.merchant.id)
    assert body["amount"] == 50000
    assert body["currency"] == "INR"
    assert body["receipt"] == "r1"
    assert body["notes"] == {"a": "b"}
    assert body["status"] == "created"
    assert body["created_at"].endswith("Z")
    assert set(body) == {
        "id",
        "merchant_id",
        "amount",
        "currency",
        "receipt",
        "notes",
        "callback_url",
        "status",
        "created_at",
        "updated_at",
    }


def test_currency_defaults_to_inr(alice):
    response = alice.client.post("/api/v1/orders", {"amount": 100}, format="json")
    assert response.status_code == 201
    assert response.json()["currency"] == "INR"
    assert response.json()["receipt"] is None
    assert response.json()["callback_url"] is None


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"amount": 99}, "amount", "amount_too_small"),
        ({}, "amount", "required"),
        ({"amount": "100"}, "amount", "invalid_type"),
        ({"amount": 100.0}, "amount", "invalid_type"),
        ({"amount": True}, "amount", "invalid_type"),
        ({"amount": 100, "currency": "XYZ"}, "currency", "invalid_currency"),
        ({"amount": 100, "currency": "inr"}, "currency", "invalid_currency"),
        ({"amount": 100, "receipt": 5}, "receipt", "invalid_type"),
        ({"amount": 100, "receipt": "x" * 65}, "receipt", "too_long"),
        ({"amount": 100, "notes": ["a"]}, "notes", "invalid_type"),
    ],
)
def test_bad_order_input_is_400_and_writes_nothing(alice, body, field, reason):
    response = alice.client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR"
    assert error["field"] == field
    assert error["reason"] == reason
    assert Order.objects.count() == 0


def test_amount_boundary_100_is_accepted(alice):
    assert alice.client.post("/api/v1/orders", {"amount": 100}, format="json").status_code == 201


def test_amount_99_message(alice):
    response = alice.client.post("/api/v1/orders", {"amount": 99}, format="json")
    assert response.json()["error"]["description"] == "amount must be at least 100"


def test_get_order_and_cross_merchant_404(alice, bob):
    order_id = alice.client.post("/api/v1/orders", {"amount": 500}, format="json").json()["id"]
    response = alice.client.get(f"/api/v1/orders/{order_id}")
    assert response.status_code == 200
    assert response.json()["id"] == order_id
    other = bob.client.get(f"/api/v1/orders/{order_id}")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND_ERROR"


def test_list_orders_is_paginated_and_merchant_scoped(alice, bob):
    ids = [alice.client.post("/api/v1/orders", {"amount": 100 + i}, format="json").json()["id"] for i in range(3)]
    bob.client.post("/api/v1/orders", {"amount": 100}, format="json")
    page = alice.client.get("/api/v1/orders?limit=2").json()
    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 0
    assert [o["id"] for o in page["data"]] == ids[::-1][:2]
    assert alice.client.get("/api/v1/orders?offset=2").json()["data"][0]["id"] == ids[0]
    assert bob.client.get("/api/v1/orders").json()["total"] == 1


def test_list_bad_limit_is_400(alice):
    response = alice.client.get("/api/v1/orders?limit=0")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "limit"


def test_public_order_needs_no_auth_and_shows_four_fields(alice, anon):
    order_id = alice.client.post("/api/v1/orders", {"amount": 700, "receipt": "secret"}, format="json").json()["id"]
    response = anon.get(f"/api/v1/orders/{order_id}/public")
    assert response.status_code == 200
    assert response.json() == {"id": order_id, "amount": 700, "currency": "INR", "status": "created"}


def test_public_order_unknown_is_404(anon):
    assert anon.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA/public").status_code == 404


def test_orders_need_auth(anon):
    response = anon.post("/api/v1/orders", {"amount": 100}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"
