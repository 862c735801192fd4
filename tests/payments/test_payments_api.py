"""Payments API without a worker: create (UPI, card, implicit order), validation of every
input and boundary, get/list/filters, status timeline, public endpoints, tenancy."""

from datetime import UTC, datetime

import pytest

from payments.ids import is_public_id
from payments.models import Event, Order, Payment, TimelineEntry
from tests.payments.conftest import VISA_OK, card
from tests.payments.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(alice):
    return OrderFactory(merchant=alice.merchant, amount=50000)


def create(tenant, body, **extra):
    return tenant.client.post("/api/v1/payments", body, format="json", **extra)


def nothing_written():
    return Payment.objects.count() == 0 and Event.objects.count() == 0 and TimelineEntry.objects.count() == 0


def test_upi_payment_is_201_pending_with_exact_body(alice, order):
    response = create(alice, {"order_id": order.id, "method": "upi", "vpa": "user@okbank"})
    assert response.status_code == 201
    body = response.json()
    assert is_public_id(body["id"], "pay")
    assert set(body) == {"id", "order_id", "amount", "currency", "method", "vpa", "status", "created_at"}
    assert body["order_id"] == order.id
    assert body["amount"] == 50000
    assert body["currency"] == "INR"
    assert body["method"] == "upi"
    assert body["vpa"] == "user@okbank"
    assert body["status"] == "pending"
    order.refresh_from_db()
    assert order.status == "attempted"


def test_card_payment_stores_only_network_and_last4(alice, order):
    response = create(alice, {"order_id": order.id, "method": "card", "card": card(VISA_OK)})
    assert response.status_code == 201
    body = response.json()
    assert body["card_network"] == "visa"
    assert body["card_last4"] == "1111"
    assert "vpa" not in body
    payment = Payment.objects.get()
    assert (payment.card_network, payment.card_last4, payment.vpa) == ("visa", "1111", None)


def test_create_writes_first_event_and_timeline_row(alice, order):
    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    event = Event.objects.get()
    assert (event.type, event.object_id, event.version) == ("payment.created", payment_id, 1)
    assert event.data["payment"]["status"] == "pending"
    entry = TimelineEntry.objects.get()
    assert (entry.object_id, entry.from_status, entry.to_status, entry.version, entry.source) == (
        payment_id,
        None,
        "pending",
        1,
        "api",
    )


def test_implicit_order_from_amount_and_currency(alice):
    response = create(alice, {"amount": 2500, "currency": "USD", "method": "upi", "vpa": "a@b"})
    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["order_id"])
    assert (order.merchant_id, order.amount, order.currency, order.status) == (
        alice.merchant.id,
        2500,
        "USD",
        "attempted",
    )


@pytest.mark.parametrize(
    ("network", "number"),
    [
        ("visa", "4111111111111111"),
        ("mastercard", "5555555555554444"),
        ("mastercard", "5105105105105100"),
        ("amex", "378282246310005"),
        ("amex", "341111111111111"),
        ("rupay", "6522222222222222"),
        ("rupay", "8111111111111113"),
        ("unknown", "3530111333300000"),
    ],
)
def test_card_networks(alice, order, network, number):
    # make the number Luhn-valid by brute force on the last digit where needed
    from payments.validation import luhn_valid

    if not luhn_valid(number):
        number = next(number[:-1] + str(d) for d in range(10) if luhn_valid(number[:-1] + str(d)))
    response = create(alice, {"order_id": order.id, "method": "card", "card": card(number)})
    assert response.status_code == 201, response.json()
    assert response.json()["card_network"] == network


def _expiry_month(offset: int) -> tuple[int, int]:
    now = datetime.now(UTC)
    month = now.month + offset
    year = now.year
    while month < 1:
        month += 12
        year -= 1
    while month > 12:
        month -= 12
        year += 1
    return month, year


def test_card_expiring_this_month_is_accepted(alice, order):
    month, year = _expiry_month(0)
    response = create(
        alice, {"order_id": order.id, "method": "card", "card": card(expiry_month=month, expiry_year=year)}
    )
    assert response.status_code == 201


def test_card_expired_last_month_is_expired_card(alice, order):
    month, year = _expiry_month(-1)
    response = create(
        alice, {"order_id": order.id, "method": "card", "card": card(expiry_month=month, expiry_year=year)}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "EXPIRED_CARD"
    assert nothing_written()


def test_two_digit_year(alice, order):
    response = create(alice, {"order_id": order.id, "method": "card", "card": card(expiry_year="99")})
    assert response.status_code == 201
    expired = create(alice, {"order_id": order.id, "method": "card", "card": card(expiry_year="20")})
    assert expired.json()["error"]["code"] == "EXPIRED_CARD"


VALID_19 = "4000000000000000006"  # 19 digits, Luhn-valid


@pytest.mark.parametrize(
    ("card_body", "code", "field"),
    [
        (card("411111111111"), "INVALID_CARD", "card.number"),  # 12 digits
        (card("41111111111111111111"), "INVALID_CARD", "card.number"),  # 20 digits
        (card("4111111111111112"), "INVALID_CARD", "card.number"),  # Luhn
        (card("4111-1111-1111-111a"), "INVALID_CARD", "card.number"),
        (card(4111111111111111), "BAD_REQUEST_ERROR", "card.number"),  # wrong type
        (card(expiry_month=13), "INVALID_CARD", "card.expiry_month"),
        (card(expiry_month=0), "INVALID_CARD", "card.expiry_month"),
        (card(expiry_month="x"), "BAD_REQUEST_ERROR", "card.expiry_month"),
        (card(expiry_year=202), "INVALID_CARD", "card.expiry_year"),
        (card(cvv="12"), "INVALID_CARD", "card.cvv"),
        (card(cvv="12345"), "INVALID_CARD", "card.cvv"),
        (card(cvv=123), "BAD_REQUEST_ERROR", "card.cvv"),
        ("4111111111111111", "BAD_REQUEST_ERROR", "card"),
        (None, "BAD_REQUEST_ERROR", "card"),
    ],
)
def test_bad_cards(alice, order, card_body, code, field):
    response = create(alice, {"order_id": order.id, "method": "card", "card": card_body})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert nothing_written()


def test_19_digit_card_is_accepted_and_separators_are_stripped(alice, order):
    assert create(alice, {"order_id": order.id, "method": "card", "card": card(VALID_19)}).status_code == 201
    spaced = create(alice, {"order_id": order.id, "method": "card", "card": card("4111-1111 1111-1111")})
    assert spaced.status_code == 201
    assert spaced.json()["card_last4"] == "1111"


def test_card_error_never_echoes_the_number(alice, order):
    response = create(alice, {"order_id": order.id, "method": "card", "card": card("4111111111111112")})
    assert "4111111111111112" not in response.content.decode()


@pytest.mark.parametrize("vpa", ["no-at-sign", "a@b.c", "@bank", "a@", "a b@bank", "a@ba nk", "x" * 251 + "@bank"])
def test_invalid_vpa(alice, order, vpa):
    response = create(alice, {"order_id": order.id, "method": "upi", "vpa": vpa})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_VPA"
    assert response.json()["error"]["field"] == "vpa"
    assert nothing_written()


@pytest.mark.parametrize("vpa", ["user.name_1-x@okicici", "9876543210@ybl"])
def test_valid_vpas(alice, order, vpa):
    assert create(alice, {"order_id": order.id, "method": "upi", "vpa": vpa}).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code", "field", "reason"),
    [
        ({"method": "upi", "vpa": "a@b"}, 400, "BAD_REQUEST_ERROR", "amount", "required"),
        ({"amount": 99, "method": "upi", "vpa": "a@b"}, 400, "BAD_REQUEST_ERROR", "amount", "amount_too_small"),
        ({"amount": "500", "method": "upi", "vpa": "a@b"}, 400, "BAD_REQUEST_ERROR", "amount", "invalid_type"),
        ({"amount": 500, "method": "cash"}, 400, "BAD_REQUEST_ERROR", "method", "invalid_method"),
        ({"amount": 500}, 400, "BAD_REQUEST_ERROR", "method", "required"),
        ({"amount": 500, "method": "upi"}, 400, "BAD_REQUEST_ERROR", "vpa", "required"),
        ({"amount": 500, "method": "upi", "vpa": 5}, 400, "BAD_REQUEST_ERROR", "vpa", "invalid_type"),
        ({"order_id": 5, "method": "upi", "vpa": "a@b"}, 400, "BAD_REQUEST_ERROR", "order_id", "invalid_type"),
        (
            {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "upi", "vpa": "a@b"},
            404,
            "NOT_FOUND_ERROR",
            "order_id",
            None,
        ),
        (
            {"amount": 500, "method": "upi", "vpa": "a@b", "callback_url": "ftp://x"},
            400,
            "BAD_REQUEST_ERROR",
            "callback_url",
            "invalid_url",
        ),
    ],
)
def test_bad_payment_input(alice, body, status, code, field, reason):
    response = create(alice, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == (code, field, reason)
    assert nothing_written()
    assert Order.objects.count() == 0


def test_amount_99_and_100_boundary_implicit_order(alice):
    assert create(alice, {"amount": 99, "method": "upi", "vpa": "a@b"}).status_code == 400
    assert create(alice, {"amount": 100, "method": "upi", "vpa": "a@b"}).status_code == 201


def test_amount_mismatch_with_order(alice, order):
    response = create(alice, {"order_id": order.id, "amount": 100, "method": "upi", "vpa": "a@b"})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "amount_mismatch"
    assert nothing_written()


def test_paid_order_refuses_new_payments(alice):
    paid = OrderFactory(merchant=alice.merchant, status="paid")
    response = create(alice, {"order_id": paid.id, "method": "upi", "vpa": "a@b"})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "order_already_paid"
    assert nothing_written()


def test_other_merchants_order_is_404_and_nothing_written(alice, bob, order):
    response = create(bob, {"order_id": order.id, "method": "upi", "vpa": "a@b"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert nothing_written()
    order.refresh_from_db()
    assert order.status == "created"


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "reason"),
    [
        (b"{not json", "application/json", 400, "malformed_body"),
        (b"[1, 2]", "application/json", 400, "invalid_body"),
        (b'"text"', "application/json", 400, "invalid_body"),
        (b"amount=100", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (
            b'{"amount": 100, "method": "upi", "vpa": "' + b"a" * 70000 + b'@b"}',
            "application/json",
            413,
            "body_too_large",
        ),
    ],
)
def test_malformed_and_huge_bodies(alice, raw, content_type, status, reason):
    response = alice.client.generic("POST", "/api/v1/payments", raw, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert response.json()["error"]["reason"] == reason
    assert nothing_written()


def test_deeply_nested_json_is_400(alice):
    raw = b"[" * 100_000 + b"]" * 100_000
    response = alice.client.generic("POST", "/api/v1/orders", raw[:60000], content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_create_query_budget(alice, order, django_assert_num_queries):
    create(alice, {"order_id": order.id, "method": "upi", "vpa": "warm@up"})  # warm the api key's last_used_at
    # auth SELECT, BEGIN, order UPDATE…RETURNING, payment+timeline+event INSERT (one
    # statement), COMMIT
    with django_assert_num_queries(5):
        response = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"})
    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_create_query_budget_with_idempotency_key(alice, order, django_assert_num_queries):
    create(alice, {"order_id": order.id, "method": "upi", "vpa": "warm@up"})
    # + the claim INSERT (autocommit), the stored-response UPDATE, and the service's
    # SAVEPOINT/RELEASE inside the idempotency transaction
    with django_assert_num_queries(9):
        response = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201


def test_get_payment_adds_fields_and_is_merchant_scoped(alice, bob, order):
    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    body = alice.client.get(f"/api/v1/payments/{payment_id}").json()
    assert body["id"] == payment_id
    assert body["captured"] is False
    assert body["error_code"] is None
    assert body["error_description"] is None
    assert body["version"] == 1
    assert body["updated_at"].endswith("Z")
    assert bob.client.get(f"/api/v1/payments/{payment_id}").status_code == 404


def test_list_payments_filters(alice, bob):
    upi = PaymentFactory(order=OrderFactory(merchant=alice.merchant), method="upi", status="success")
    card_payment = PaymentFactory(
        order=OrderFactory(merchant=alice.merchant), method="card", vpa=None, card_network="visa", card_last4="1111"
    )
    PaymentFactory(order=OrderFactory(merchant=bob.merchant))
    page = alice.client.get("/api/v1/payments").json()
    assert page["total"] == 2
    assert [p["id"] for p in alice.client.get("/api/v1/payments?status=success").json()["data"]] == [upi.id]
    assert [p["id"] for p in alice.client.get("/api/v1/payments?method=card").json()["data"]] == [card_payment.id]
    future = alice.client.get("/api/v1/payments", {"created_after": "2999-01-01T00:00:00Z"}).json()
    assert future["total"] == 0
    past = alice.client.get("/api/v1/payments", {"created_before": "2999-01-01T00:00:00Z"}).json()
    assert past["total"] == 2
    bad = alice.client.get("/api/v1/payments?status=bogus")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "status"
    assert bob.client.get("/api/v1/payments").json()["total"] == 1


def test_status_timeline_and_cross_merchant(alice, bob, order):
    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    body = alice.client.get(f"/api/v1/payments/{payment_id}/status").json()
    assert body["payment_id"] == payment_id
    assert body["status"] == "pending"
    assert body["version"] == 1
    assert [(e["status"], e["detail"], e["version"]) for e in body["events"]] == [("pending", "Payment created", 1)]
    assert bob.client.get(f"/api/v1/payments/{payment_id}/status").status_code == 404
    assert bob.client.get(f"/api/v1/payments/{payment_id}/status?wait=1").status_code == 404


def test_status_long_poll_times_out_with_current_state(alice, order):
    import time

    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    started = time.monotonic()
    body = alice.client.get(f"/api/v1/payments/{payment_id}/status?wait=1&after_version=1").json()
    assert 0.9 <= time.monotonic() - started < 3
    assert body["version"] == 1


def test_status_long_poll_returns_at_once_when_already_newer(alice, order):
    import time

    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    started = time.monotonic()
    body = alice.client.get(f"/api/v1/payments/{payment_id}/status?wait=30&after_version=0").json()
    assert time.monotonic() - started < 0.5
    assert body["version"] == 1


def test_status_wait_bounds(alice, order):
    payment_id = create(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"}).json()["id"]
    response = alice.client.get(f"/api/v1/payments/{payment_id}/status?wait=31")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "wait"


def test_public_create_and_get(alice, anon, order):
    # The order decides the amount: an anonymous caller cannot even send one.
    refused = anon.post(
        "/api/v1/payments/public", {"order_id": order.id, "method": "upi", "vpa": "a@b", "amount": 1}, format="json"
    )
    assert refused.status_code == 400
    assert (refused.json()["error"]["field"], refused.json()["error"]["reason"]) == ("amount", "unknown_field")
    assert not Payment.objects.exists()
    body = {"order_id": order.id, "method": "upi", "vpa": "a@b"}
    response = anon.post("/api/v1/payments/public", body, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["amount"] == 50000
    assert "merchant_id" not in body
    payment = Payment.objects.get(pk=body["id"])
    assert payment.merchant_id == alice.merchant.id
    assert TimelineEntry.objects.get().source == "checkout"
    public = anon.get(f"/api/v1/payments/{body['id']}/public")
    assert public.status_code == 200
    assert public.json()["status"] == "pending"
    assert "merchant_id" not in public.json()


def test_public_create_unknown_order_is_404(anon):
    response = anon.post(
        "/api/v1/payments/public", {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "upi", "vpa": "a@b"}, format="json"
    )
    assert response.status_code == 404
    assert nothing_written()


def test_public_create_requires_order_id(anon):
    response = anon.post("/api/v1/payments/public", {"amount": 500, "method": "upi", "vpa": "a@b"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "order_id"


def test_payment_endpoints_need_auth(anon):
    assert anon.get("/api/v1/payments").status_code == 401
    assert anon.post("/api/v1/payments", {}, format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_create_with_implicit_order_query_budget(alice, django_assert_num_queries):
    create(alice, {"amount": 500, "method": "upi", "vpa": "warm@up"})
    # auth SELECT, then order+payment+timeline+event INSERT as one statement in autocommit
    # (atomic on its own: no BEGIN/COMMIT round trips)
    with django_assert_num_queries(2):
        response = create(alice, {"amount": 500, "method": "upi", "vpa": "a@b"}, HTTP_X_CORRELATION_ID="c-1")
    assert response.status_code == 201
    event = Event.objects.get(object_id=response.json()["id"])
    assert (event.type, event.version, event.correlation_id) == ("payment.created", 1, "c-1")
    assert event.data["payment"] == alice.client.get(f"/api/v1/payments/{response.json()['id']}").json()


def test_deactivated_merchants_order_cannot_be_seen_or_paid_publicly(alice, anon, order):
    type(alice.merchant).objects.filter(pk=alice.merchant.pk).update(is_active=False)
    assert anon.get(f"/api/v1/orders/{order.id}/public").status_code == 404
    response = anon.post(
        "/api/v1/payments/public", {"order_id": order.id, "method": "upi", "vpa": "a@b"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert nothing_written()
