"""Customers and saved payment methods over the API, without a worker: CRUD of customers,
saving cards (tokenised, fingerprinted, never stored) and VPAs, deleting, paying with a
saved method and every way that is refused, and tenancy (bob sees 404, changes nothing)."""

from __future__ import annotations

import pytest
from django.db import connection

from payments.ids import is_public_id
from payments.models import Customer, Payment, SavedPaymentMethod, SimulatorToken
from tests.payments.conftest import VISA_DECLINED, VISA_OK, card
from tests.support.admin_urls import admin_change_url

pytestmark = pytest.mark.django_db


def new_customer(tenant, **fields) -> dict:
    body = {"email": "asha@example.com", "name": "Asha Rao", "phone": "+919876543210", **fields}
    response = tenant.client.post("/api/v1/customers", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def save(tenant, customer_id: str, body: dict):
    return tenant.client.post(f"/api/v1/customers/{customer_id}/payment-methods", body, format="json")


def test_customer_create_get_list_update(alice):
    created = new_customer(alice, locale="en-US")
    assert is_public_id(created["id"], "cust")
    assert set(created) == {"id", "email", "name", "phone", "locale", "created_at", "updated_at"}
    assert (created["email"], created["phone"], created["locale"]) == ("asha@example.com", "+919876543210", "en-US")
    assert alice.client.get(f"/api/v1/customers/{created['id']}").json() == created
    page = alice.client.get("/api/v1/customers").json()
    assert (page["total"], [c["id"] for c in page["data"]]) == (1, [created["id"]])
    updated = alice.client.patch(f"/api/v1/customers/{created['id']}", {"phone": None}, format="json")
    assert updated.status_code == 200
    assert (updated.json()["phone"], updated.json()["email"]) == (None, "asha@example.com")
    assert Customer.objects.get().phone is None


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"phone": "98765"}, "phone", "invalid"),
        ({"locale": "xx-QQ"}, "locale", "invalid_locale"),
        ({"name": "a" * 256}, "name", "max_length"),
    ],
)
def test_customer_bad_input_is_400_and_writes_nothing(alice, body, field, reason):
    response = alice.client.post("/api/v1/customers", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", field, reason)
    assert Customer.objects.count() == 0


def test_saving_a_card_keeps_token_network_last4_expiry_and_fingerprint_only(alice):
    customer = new_customer(alice)
    response = save(alice, customer["id"], {"type": "card", "card": card(VISA_OK, cvv="987")})
    assert response.status_code == 201
    body = response.json()
    assert is_public_id(body["id"], "pm")
    assert set(body) == {
        "id",
        "customer_id",
        "type",
        "card_network",
        "card_last4",
        "expiry_month",
        "expiry_year",
        "fingerprint",
        "created_at",
        "deleted_at",
    }
    assert (body["card_network"], body["card_last4"], body["expiry_month"], body["expiry_year"]) == (
        "visa",
        "1111",
        12,
        2099,
    )
    method = SavedPaymentMethod.objects.get()
    token = SimulatorToken.objects.get()
    assert method.provider_token == token.token
    assert token.outcome_class == "approve"
    assert len(method.fingerprint) == 64 and "4111" not in method.fingerprint
    # Neither the gateway nor the simulated acquirer kept the number or the CVV.
    with connection.cursor() as cursor:
        for table in ("payment_methods", "simulator_tokens", "customers", "idempotency_keys"):
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")
            for (row,) in cursor.fetchall():
                assert "4111111111111111" not in row and '"987"' not in row, table


def test_the_same_card_saved_again_returns_the_first_method(alice, bob):
    customer = new_customer(alice)
    first = save(alice, customer["id"], {"type": "card", "card": card(VISA_OK)})
    again = save(alice, customer["id"], {"type": "card", "card": card("4111-1111-1111-1111", cvv="555")})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = save(alice, customer["id"], {"type": "card", "card": card(VISA_DECLINED)})
    assert other.status_code == 201 and other.json()["fingerprint"] != first.json()["fingerprint"]
    # Another merchant's customer with the same card gets an unrelated fingerprint.
    bobs = new_customer(bob)
    bobs_card = save(bob, bobs["id"], {"type": "card", "card": card(VISA_OK)}).json()
    assert bobs_card["fingerprint"] != first.json()["fingerprint"]
    assert SavedPaymentMethod.objects.filter(merchant=alice.merchant).count() == 2


def test_upi_method_list_get_delete(alice):
    customer = new_customer(alice)
    upi = save(alice, customer["id"], {"type": "upi", "vpa": "asha@okbank"})
    assert upi.status_code == 201
    assert upi.json()["vpa"] == "asha@okbank" and "card_last4" not in upi.json()
    pm = upi.json()["id"]
    base = f"/api/v1/customers/{customer['id']}/payment-methods"
    assert [m["id"] for m in alice.client.get(base).json()["data"]] == [pm]
    assert alice.client.get(f"{base}/{pm}").json()["id"] == pm
    deleted = alice.client.delete(f"{base}/{pm}")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    assert alice.client.get(base).json()["data"] == []
    assert alice.client.get(f"{base}/{pm}").json()["deleted_at"] is not None


@pytest.mark.parametrize(
    ("body", "code", "field", "reason"),
    [
        ({"type": "card"}, "BAD_REQUEST_ERROR", "card", "required"),
        ({"type": "upi"}, "BAD_REQUEST_ERROR", "vpa", "required"),
        ({"type": "cash"}, "BAD_REQUEST_ERROR", "type", "invalid_choice"),
        ({"type": "upi", "vpa": "nope"}, "INVALID_VPA", "vpa", "invalid_vpa"),
        ({"type": "card", "card": card("4111 1111 1111 1112")}, "INVALID_CARD", "card.number", "luhn_check_failed"),
        ({"type": "card", "card": card(expiry_year=2001)}, "EXPIRED_CARD", "card.expiry_year", "card_expired"),
    ],
)
def test_bad_payment_method_is_refused_and_nothing_is_tokenised(alice, body, code, field, reason):
    customer = new_customer(alice)
    response = save(alice, customer["id"], body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == (code, field, reason)
    assert SavedPaymentMethod.objects.count() == 0 and SimulatorToken.objects.count() == 0


def test_other_merchant_sees_404_and_changes_nothing(alice, bob):
    customer = new_customer(alice)
    pm = save(alice, customer["id"], {"type": "card", "card": card()}).json()["id"]
    base = f"/api/v1/customers/{customer['id']}"
    assert bob.client.get(base).status_code == 404
    assert bob.client.patch(base, {"name": "Mallory"}, format="json").status_code == 404
    assert bob.client.get(f"{base}/payment-methods").status_code == 404
    assert save(bob, customer["id"], {"type": "upi", "vpa": "m@bank"}).status_code == 404
    assert bob.client.get(f"{base}/payment-methods/{pm}").status_code == 404
    assert bob.client.delete(f"{base}/payment-methods/{pm}").status_code == 404
    assert bob.client.get("/api/v1/customers").json()["total"] == 0
    pay = bob.client.post(
        "/api/v1/payments", {"amount": 500, "payment_method_id": pm, "customer_id": customer["id"]}, format="json"
    )
    assert pay.status_code == 404 and pay.json()["error"]["field"] == "payment_method_id"
    assert Customer.objects.get().name == "Asha Rao"
    assert SavedPaymentMethod.objects.get().deleted_at is None
    assert Payment.objects.count() == 0


def pay(tenant, **body):
    defaults = {} if "order_id" in body else {"amount": 25000}
    return tenant.client.post("/api/v1/payments", {**defaults, **body}, format="json")


def test_paying_with_a_saved_card_needs_no_card_data(alice):
    customer = new_customer(alice)
    pm = save(alice, customer["id"], {"type": "card", "card": card()}).json()["id"]
    response = pay(alice, payment_method_id=pm, customer_id=customer["id"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["method"], body["card_network"], body["card_last4"]) == ("card", "visa", "1111")
    assert (body["customer_id"], body["payment_method_id"]) == (customer["id"], pm)
    payment = Payment.objects.get()
    assert (payment.payment_method_id, payment.customer_id) == (pm, customer["id"])
    assert payment.order.customer_id == customer["id"]
    detail = alice.client.get(f"/api/v1/payments/{payment.id}").json()
    assert detail["payment_method_id"] == pm


def test_saved_upi_method_pays_with_its_vpa(alice):
    customer = new_customer(alice)
    pm = save(alice, customer["id"], {"type": "upi", "vpa": "success@upi"}).json()["id"]
    body = pay(alice, payment_method_id=pm, customer_id=customer["id"], method="upi").json()
    assert (body["method"], body["vpa"]) == ("upi", "success@upi")


def test_refused_saved_method_payments_are_clear_400s_and_write_nothing(alice):
    customer = new_customer(alice)
    other = new_customer(alice, email="ravi@example.com")
    pm = save(alice, customer["id"], {"type": "card", "card": card()}).json()["id"]

    def refused(response, code, field, reason):
        assert response.status_code == 400, response.json()
        error = response.json()["error"]
        assert (error["code"], error["field"], error["reason"]) == (code, field, reason)

    refused(pay(alice, payment_method_id=pm), "BAD_REQUEST_ERROR", "customer_id", "required")
    refused(
        pay(alice, payment_method_id=pm, customer_id=other["id"]),
        "BAD_REQUEST_ERROR",
        "payment_method_id",
        "payment_method_customer_mismatch",
    )
    refused(
        pay(alice, payment_method_id=pm, customer_id=customer["id"], method="upi"),
        "BAD_REQUEST_ERROR",
        "method",
        "payment_method_type_mismatch",
    )
    refused(
        pay(alice, payment_method_id=pm, customer_id=customer["id"], method="card", card=card()),
        "BAD_REQUEST_ERROR",
        "card",
        "card_with_payment_method",
    )
    SavedPaymentMethod.objects.filter(pk=pm).update(expiry_year=2020)
    refused(
        pay(alice, payment_method_id=pm, customer_id=customer["id"]),
        "EXPIRED_CARD",
        "payment_method_id",
        "payment_method_expired",
    )
    alice.client.delete(f"/api/v1/customers/{customer['id']}/payment-methods/{pm}")
    refused(
        pay(alice, payment_method_id=pm, customer_id=customer["id"]),
        "BAD_REQUEST_ERROR",
        "payment_method_id",
        "payment_method_deleted",
    )
    missing = pay(alice, payment_method_id="pm_0000000000000000", customer_id=customer["id"])
    assert missing.status_code == 404
    assert Payment.objects.count() == 0


def test_customer_on_order_and_payment(alice, bob):
    customer = new_customer(alice)
    order = alice.client.post("/api/v1/orders", {"amount": 1000, "customer_id": customer["id"]}, format="json")
    assert order.status_code == 201 and order.json()["customer_id"] == customer["id"]
    paid = pay(alice, order_id=order.json()["id"], method="upi", vpa="a@b")
    assert paid.json()["customer_id"] == customer["id"]  # inherited from the order
    assert (
        bob.client.post("/api/v1/orders", {"amount": 1000, "customer_id": customer["id"]}, format="json").json()[
            "error"
        ]["field"]
        == "customer_id"
    )
    plain = pay(alice, method="upi", vpa="a@b", customer_id=customer["id"])
    assert plain.status_code == 201 and plain.json()["customer_id"] == customer["id"]


def test_every_customers_response_matches_the_openapi_schema(alice):
    from tests.payments.test_contract import assert_conforms

    created = alice.client.post("/api/v1/customers", {"email": "a@example.com"}, format="json")
    customer = assert_conforms(created, "/api/v1/customers", "post")
    one = "/api/v1/customers/{customer_id}"
    assert_conforms(alice.client.get("/api/v1/customers"), "/api/v1/customers")
    assert_conforms(alice.client.get(f"/api/v1/customers/{customer['id']}"), one)
    assert_conforms(
        alice.client.patch(f"/api/v1/customers/{customer['id']}", {"name": "A"}, format="json"), one, "patch"
    )
    assert_conforms(alice.client.get("/api/v1/customers/cust_0000000000000000"), one)
    methods = "/api/v1/customers/{customer_id}/payment-methods"
    method = "/api/v1/customers/{customer_id}/payment-methods/{payment_method_id}"
    card_pm = assert_conforms(save(alice, customer["id"], {"type": "card", "card": card()}), methods, "post")
    assert_conforms(save(alice, customer["id"], {"type": "card", "card": card()}), methods, "post")  # 200
    upi_pm = assert_conforms(save(alice, customer["id"], {"type": "upi", "vpa": "a@bank"}), methods, "post")
    assert_conforms(save(alice, customer["id"], {"type": "upi"}), methods, "post")  # 400
    assert_conforms(alice.client.get(f"/api/v1/customers/{customer['id']}/payment-methods"), methods)
    pm_url = f"/api/v1/customers/{customer['id']}/payment-methods/{upi_pm['id']}"
    assert_conforms(alice.client.get(pm_url), method)
    assert_conforms(alice.client.delete(pm_url), method, "delete")
    paid = pay(alice, payment_method_id=card_pm["id"], customer_id=customer["id"])
    assert_conforms(paid, "/api/v1/payments", "post")
    assert_conforms(alice.client.get(f"/api/v1/payments/{paid.json()['id']}"), "/api/v1/payments/{payment_id}")
    assert_conforms(pay(alice, payment_method_id=upi_pm["id"], customer_id=customer["id"]), "/api/v1/payments", "post")


def test_admin_lists_customers_and_methods_without_the_token(alice, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456"))
    customer = new_customer(alice)
    pm = save(alice, customer["id"], {"type": "card", "card": card()}).json()["id"]
    token = SavedPaymentMethod.objects.get().provider_token
    listing = client.get("/admin/payments/customer/", {"q": "asha"})
    assert listing.status_code == 200 and customer["id"] in listing.content.decode()
    page = client.get(admin_change_url(Customer, customer["id"]))
    assert page.status_code == 200 and pm in page.content.decode()
    method_page = client.get(admin_change_url(SavedPaymentMethod, pm))
    assert method_page.status_code == 200
    assert "1111" in method_page.content.decode() and token not in method_page.content.decode()


def test_the_checkout_pays_only_with_the_orders_own_customers_saved_methods(alice, bob, anon):
    customer = new_customer(alice)
    other = new_customer(alice, email="ravi@example.com")
    mine = save(alice, customer["id"], {"type": "card", "card": card()}).json()["id"]
    theirs = save(alice, other["id"], {"type": "card", "card": card()}).json()["id"]
    bobs = save(bob, new_customer(bob)["id"], {"type": "card", "card": card()}).json()["id"]
    order = alice.client.post("/api/v1/orders", {"amount": 1000, "customer_id": customer["id"]}, format="json").json()
    plain = alice.client.post("/api/v1/orders", {"amount": 1000}, format="json").json()

    def checkout(order_id, pm):
        return anon.post("/api/v1/payments/public", {"order_id": order_id, "payment_method_id": pm}, format="json")

    assert checkout(order["id"], theirs).json()["error"]["reason"] == "payment_method_customer_mismatch"
    assert checkout(plain["id"], mine).json()["error"]["reason"] == "payment_method_customer_mismatch"
    assert checkout(order["id"], bobs).status_code == 404
    assert Payment.objects.count() == 0
    paid = checkout(order["id"], mine)
    assert paid.status_code == 201, paid.json()
    payment = Payment.objects.get()
    assert (payment.payment_method_id, payment.customer_id, payment.card_last4) == (mine, customer["id"], "1111")
    # The page lists the customer's methods (label only) and nobody else's.
    page = anon.get(f"/checkout?order_id={order['id']}").content.decode()
    assert 'data-payment-method-id="' + mine + '"' in page and "Visa •••• 1111" in page
    assert theirs not in page and "simtok_" not in page
    assert 'data-test-id="saved-methods"' not in anon.get(f"/checkout?order_id={plain['id']}").content.decode()


def test_an_order_can_name_a_new_customer_inline(alice):
    created = alice.client.post(
        "/api/v1/orders", {"amount": 1000, "customer": {"email": "new@example.com", "phone": "+919999999999"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    customer = Customer.objects.get(pk=created.json()["customer_id"])
    assert (customer.email, customer.phone, customer.merchant_id) == (
        "new@example.com",
        "+919999999999",
        alice.merchant.pk,
    )
    bad = alice.client.post("/api/v1/orders", {"amount": 1000, "customer": {"email": "nope"}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "customer.email"
    both = alice.client.post(
        "/api/v1/orders", {"amount": 1000, "customer": {"email": "a@b.co"}, "customer_id": customer.pk}, format="json"
    )
    assert both.status_code == 400 and both.json()["error"]["reason"] == "customer_conflict"
    assert Customer.objects.count() == 1
