"""Conformance of the API with PRODUCT.md §2-§4 and §7 (issue 3), for what the other
payments tests do not already pin down: every response body matches the OpenAPI schema
the merchant reads (no undeclared or missing field, declared status codes, ISO-8601 UTC
timestamps), the error envelope of every error kind, id formats, and the remaining input
boundaries (VPA, card number/network/expiry/CVV, types, list filters)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from payments.ids import is_public_id
from payments.models import Event, IdempotencyKey, Order, Payment, Refund, TimelineEntry
from payments.states import EVENT_TYPES
from payments.validation import luhn_valid
from tests.payments.conftest import VISA_OK, card
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory, SuccessfulPaymentFactory
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ENVELOPE_KEYS = {"code", "description", "field", "reason", "correlation_id"}


# --- the OpenAPI schema as a strict JSON Schema ---------------------------------------


@cache
def _openapi() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _strict(node: Any, components: dict[str, Any], *, closed: bool = True) -> Any:
    """OpenAPI 3.0 → JSON Schema: refs inlined, ``nullable`` as a null alternative, and
    (``closed``, for responses) objects with declared properties closed: an undeclared
    field is a mismatch. Request bodies stay open: the API ignores unknown fields."""
    if isinstance(node, list):
        return [_strict(item, components, closed=closed) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict(components[node["$ref"].rsplit("/", 1)[1]], components, closed=closed)
    skip = ("nullable", "readOnly", "writeOnly")
    out = {k: _strict(v, components, closed=closed) for k, v in node.items() if k not in skip}
    if closed and node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("format") == "date-time":
        out["pattern"] = ISO_UTC.pattern
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(path: str, method: str, status: int) -> dict[str, Any] | None:
    operation = _openapi()["paths"][path][method]
    declared = operation["responses"]
    assert str(status) in declared, f"{method.upper()} {path} answers {status}, not declared ({sorted(declared)})"
    content = declared[str(status)].get("content")
    if content is None:
        return None
    return _strict(content["application/json"]["schema"], _openapi()["components"]["schemas"])


def request_schema(path: str, method: str = "post") -> dict[str, Any]:
    content = _openapi()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return _strict(content, _openapi()["components"]["schemas"], closed=False)


def assert_conforms(response: Any, path: str, method: str = "get") -> dict[str, Any]:
    """The response's status is declared for the operation and its body validates
    against the declared schema exactly."""
    schema = response_schema(path, method, response.status_code)
    body = response.json() if response.content else None
    if schema is not None:
        jsonschema.validate(body, schema)
    return body


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def order(alice):
    return OrderFactory(merchant=alice.merchant, amount=50000)


@pytest.fixture
def paid(alice):
    return SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000))


def pay(tenant, body, **extra):
    return tenant.client.post("/api/v1/payments", body, format="json", **extra)


def nothing_written() -> bool:
    return not (
        Payment.objects.exists()
        or Event.objects.exists()
        or TimelineEntry.objects.exists()
        or IdempotencyKey.objects.exists()
    )


# --- responses match the OpenAPI schema ---------------------------------------------------


def test_order_responses_match_schema(alice, anon):
    created = alice.client.post(
        "/api/v1/orders",
        {"amount": 50000, "receipt": "r1", "notes": {"k": "v"}, "callback_url": "https://shop.example/done"},
        format="json",
    )
    assert created.status_code == 201
    order_id = assert_conforms(created, "/api/v1/orders", "post")["id"]
    assert_conforms(alice.client.get(f"/api/v1/orders/{order_id}"), "/api/v1/orders/{order_id}")
    page = assert_conforms(alice.client.get("/api/v1/orders"), "/api/v1/orders")
    assert [o["id"] for o in page["data"]] == [order_id]
    public = assert_conforms(anon.get(f"/api/v1/orders/{order_id}/public"), "/api/v1/orders/{order_id}/public")
    assert set(public) == {"id", "amount", "currency", "status"}


def test_payment_responses_match_schema(alice, anon, order):
    upi = pay(alice, {"order_id": order.id, "method": "upi", "vpa": "user@okbank"})
    card_payment = pay(alice, {"amount": 700, "method": "card", "card": card()})
    assert upi.status_code == card_payment.status_code == 201
    upi_id = assert_conforms(upi, "/api/v1/payments", "post")["id"]
    card_id = assert_conforms(card_payment, "/api/v1/payments", "post")["id"]
    for payment_id in (upi_id, card_id):
        assert_conforms(alice.client.get(f"/api/v1/payments/{payment_id}"), "/api/v1/payments/{payment_id}")
        assert_conforms(
            alice.client.get(f"/api/v1/payments/{payment_id}/status"), "/api/v1/payments/{payment_id}/status"
        )
        assert_conforms(anon.get(f"/api/v1/payments/{payment_id}/public"), "/api/v1/payments/{payment_id}/public")
    page = assert_conforms(alice.client.get("/api/v1/payments"), "/api/v1/payments")
    assert {p["id"] for p in page["data"]} == {upi_id, card_id}
    public = anon.post(
        "/api/v1/payments/public", {"order_id": order.id, "method": "card", "card": card()}, format="json"
    )
    assert public.status_code == 201
    assert_conforms(public, "/api/v1/payments/public", "post")
    cancelled = alice.client.post(f"/api/v1/payments/{upi_id}/cancel")
    assert cancelled.status_code == 200
    assert_conforms(cancelled, "/api/v1/payments/{payment_id}/cancel", "post")


def test_capture_and_refund_responses_match_schema(alice, paid):
    captured = alice.client.post(f"/api/v1/payments/{paid.id}/capture")
    assert captured.status_code == 200
    assert_conforms(captured, "/api/v1/payments/{payment_id}/capture", "post")
    nested = alice.client.post(f"/api/v1/payments/{paid.id}/refunds", {"amount": 100, "reason": "x"}, format="json")
    alias = alice.client.post("/api/v1/refunds", {"payment_id": paid.id, "amount": 100}, format="json")
    assert nested.status_code == alias.status_code == 201
    refund_id = assert_conforms(nested, "/api/v1/payments/{payment_id}/refunds", "post")["id"]
    assert_conforms(alias, "/api/v1/refunds", "post")
    assert_conforms(alice.client.get(f"/api/v1/refunds/{refund_id}"), "/api/v1/refunds/{refund_id}")


@pytest.mark.django_db(transaction=True)
def test_event_responses_match_schema(alice, order):
    from tests.support.processes import wait_for

    pay(alice, {"order_id": order.id, "method": "upi", "vpa": "a@b"})
    wait_for(lambda: alice.client.get("/api/v1/events").json()["data"], timeout=60, message="visible event")
    page = assert_conforms(alice.client.get("/api/v1/events"), "/api/v1/events")
    event_id = page["data"][0]["id"]
    assert_conforms(alice.client.get(f"/api/v1/events/{event_id}"), "/api/v1/events/{event_id}")


def test_webhook_api_responses_match_schema(alice, paid):
    from payments.outbox import outbox_dispatch_all

    created = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks"}, format="json")
    assert created.status_code == 201
    endpoint_id = assert_conforms(created, "/api/v1/webhook-endpoints", "post")["id"]
    base = "/api/v1/webhook-endpoints/{endpoint_id}"
    url = f"/api/v1/webhook-endpoints/{endpoint_id}"
    assert_conforms(alice.client.get("/api/v1/webhook-endpoints"), "/api/v1/webhook-endpoints")
    assert_conforms(alice.client.get(url), base)
    assert_conforms(alice.client.patch(url, {"description": "d"}, format="json"), base, "patch")
    assert_conforms(alice.client.post(f"{url}/rotate-secret", format="json"), base + "/rotate-secret", "post")
    assert_conforms(alice.client.post(f"{url}/test"), base + "/test", "post")
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert_conforms(alice.client.post(f"{url}/recover", {"since": since}, format="json"), base + "/recover", "post")
    alice.client.post(f"/api/v1/payments/{paid.id}/capture")
    outbox_dispatch_all()
    delivery = WebhookDelivery.objects.filter(endpoint_id=endpoint_id).first()
    assert delivery is not None
    WebhookAttempt.objects.create(  # as the delivery worker records a failed attempt
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        url="http://127.0.0.1:9/hooks",
        status_code=500,
        latency_ms=12,
        response_body="oops",
        error_class="http_status",
        error="HTTP 500",
        webhook_timestamp=1,
    )
    for path in ("/api/v1/webhooks", "/api/v1/webhooks/logs"):
        page = assert_conforms(alice.client.get(path), path)
        assert page["total"] >= 1
    detail = assert_conforms(alice.client.get(f"/api/v1/webhooks/{delivery.id}"), "/api/v1/webhooks/{delivery_id}")
    assert [a["status_code"] for a in detail["attempt_log"]] == [500]
    attempts = assert_conforms(
        alice.client.get(f"/api/v1/webhooks/{delivery.id}/attempts"), "/api/v1/webhooks/{delivery_id}/attempts"
    )
    assert [(a["status_code"], a["latency_ms"], a["response_body"]) for a in attempts["data"]] == [(500, 12, "oops")]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    retried = alice.client.post(f"/api/v1/webhooks/{delivery.id}/retry")
    assert retried.json() == {"id": delivery.id, "status": "pending", "message": "Webhook retry scheduled"}
    assert_conforms(retried, "/api/v1/webhooks/{delivery_id}/retry", "post")
    assert alice.client.delete(url).status_code == 204


def test_realtime_ticket_and_demo_endpoints_match_schema(alice, demo):
    assert_conforms(alice.client.post("/api/v1/realtime/tickets"), "/api/v1/realtime/tickets", "post")
    assert_conforms(alice.client.get("/api/v1/test/merchant"), "/api/v1/test/merchant")
    jobs = assert_conforms(alice.client.get("/api/v1/test/jobs/status"), "/api/v1/test/jobs/status")
    assert {"pending", "processing", "completed", "failed", "worker_status"} <= set(jobs)


# --- the error envelope, for every kind of error -----------------------------------------


@pytest.fixture
def world(alice, order, paid):
    submitted = PaymentFactory(order=OrderFactory(merchant=alice.merchant), submitted_at=timezone.now())
    disabled = alice.client.post(
        "/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "enabled": False}, format="json"
    ).json()
    return {"alice": alice, "order": order, "paid": paid, "submitted": submitted, "disabled_endpoint": disabled["id"]}


def _huge(world):
    raw = b'{"amount": 100, "receipt": "' + b"x" * 70_000 + b'"}'
    return world["alice"].client.generic("POST", "/api/v1/orders", raw, content_type="application/json")


ERROR_CASES = [
    # (label, request, path template, method, status, code, reason, field)
    (
        "invalid vpa",
        lambda w: pay(w["alice"], {"order_id": w["order"].id, "method": "upi", "vpa": "nope"}),
        "/api/v1/payments",
        "post",
        400,
        "INVALID_VPA",
        "invalid_vpa",
        "vpa",
    ),
    (
        "luhn",
        lambda w: pay(w["alice"], {"order_id": w["order"].id, "method": "card", "card": card("4111111111111112")}),
        "/api/v1/payments",
        "post",
        400,
        "INVALID_CARD",
        "luhn_check_failed",
        "card.number",
    ),
    (
        "expired",
        lambda w: pay(w["alice"], {"order_id": w["order"].id, "method": "card", "card": card(expiry_year=2020)}),
        "/api/v1/payments",
        "post",
        400,
        "EXPIRED_CARD",
        "card_expired",
        "card.expiry_year",
    ),
    (
        "no credentials",
        lambda w: APIClient().post("/api/v1/payments", {"amount": 500}, format="json"),
        "/api/v1/payments",
        "post",
        401,
        "AUTHENTICATION_ERROR",
        "invalid_credentials",
        None,
    ),
    (
        "unknown payment",
        lambda w: w["alice"].client.get("/api/v1/payments/pay_AAAAAAAAAAAAAAAA"),
        "/api/v1/payments/{payment_id}",
        "get",
        404,
        "NOT_FOUND_ERROR",
        None,
        None,
    ),
    (
        "unknown public order",
        lambda w: APIClient().get("/api/v1/orders/order_AAAAAAAAAAAAAAAA/public"),
        "/api/v1/orders/{order_id}/public",
        "get",
        404,
        "NOT_FOUND_ERROR",
        None,
        None,
    ),
    (
        "cancel after submission",
        lambda w: w["alice"].client.post(f"/api/v1/payments/{w['submitted'].id}/cancel"),
        "/api/v1/payments/{payment_id}/cancel",
        "post",
        409,
        "CONFLICT_ERROR",
        "payment_already_submitted",
        None,
    ),
    (
        "capture pending",
        lambda w: w["alice"].client.post(f"/api/v1/payments/{w['submitted'].id}/capture"),
        "/api/v1/payments/{payment_id}/capture",
        "post",
        400,
        "BAD_REQUEST_ERROR",
        "payment_not_capturable",
        None,
    ),
    (
        "refund too much",
        lambda w: w["alice"].client.post(
            "/api/v1/refunds", {"payment_id": w["paid"].id, "amount": 10001}, format="json"
        ),
        "/api/v1/refunds",
        "post",
        400,
        "BAD_REQUEST_ERROR",
        "refund_exceeds_available",
        "amount",
    ),
    ("huge body", _huge, "/api/v1/orders", "post", 413, "BAD_REQUEST_ERROR", "body_too_large", None),
    (
        "form body",
        lambda w: w["alice"].client.post("/api/v1/orders", {"amount": 500}),
        "/api/v1/orders",
        "post",
        415,
        "BAD_REQUEST_ERROR",
        "unsupported_media_type",
        None,
    ),
    (
        "malformed public body",
        lambda w: APIClient().generic("POST", "/api/v1/payments/public", b"{", content_type="application/json"),
        "/api/v1/payments/public",
        "post",
        400,
        "BAD_REQUEST_ERROR",
        "malformed_body",
        None,
    ),
    (
        "bad page size",
        lambda w: w["alice"].client.get("/api/v1/payments?limit=101"),
        "/api/v1/payments",
        "get",
        400,
        "BAD_REQUEST_ERROR",
        "invalid_query",
        "limit",
    ),
    (
        "bad created filter",
        lambda w: w["alice"].client.get("/api/v1/payments?created_before=yesterday"),
        "/api/v1/payments",
        "get",
        400,
        "BAD_REQUEST_ERROR",
        "invalid_query",
        "created_before",
    ),
    (
        "foreign cursor",
        lambda w: w["alice"].client.get("/api/v1/events?after=evt_nope"),
        "/api/v1/events",
        "get",
        400,
        "BAD_REQUEST_ERROR",
        "invalid_cursor",
        "after",
    ),
    (
        "webhook endpoint url",
        lambda w: w["alice"].client.post("/api/v1/webhook-endpoints", {"url": "ftp://x.example"}, format="json"),
        "/api/v1/webhook-endpoints",
        "post",
        400,
        "BAD_REQUEST_ERROR",
        "unsupported_scheme",
        "url",
    ),
    (
        "unknown webhook endpoint",
        lambda w: w["alice"].client.get("/api/v1/webhook-endpoints/we_AAAAAAAAAAAAAAAA"),
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "get",
        404,
        "NOT_FOUND_ERROR",
        None,
        None,
    ),
    (
        "test a disabled endpoint",
        lambda w: w["alice"].client.post(f"/api/v1/webhook-endpoints/{w['disabled_endpoint']}/test"),
        "/api/v1/webhook-endpoints/{endpoint_id}/test",
        "post",
        409,
        "CONFLICT_ERROR",
        "endpoint_disabled",
        None,
    ),
    (
        "bad wait",
        lambda w: w["alice"].client.get(f"/api/v1/payments/{w['paid'].id}/status?wait=x"),
        "/api/v1/payments/{payment_id}/status",
        "get",
        400,
        "BAD_REQUEST_ERROR",
        "invalid_query",
        "wait",
    ),
]


@pytest.mark.parametrize(
    ("request_", "path", "method", "status", "code", "reason", "field"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_every_error_is_the_documented_envelope(world, request_, path, method, status, code, reason, field):
    before = (Order.objects.count(), Payment.objects.count(), Refund.objects.count(), Event.objects.count())
    response = request_(world)
    assert response.status_code == status
    body = assert_conforms(response, path, method)
    error = body["error"]
    assert set(body) == {"error"} and set(error) == ENVELOPE_KEYS
    assert (error["code"], error["reason"], error["field"]) == (code, reason, field)
    assert error["description"]
    assert error["correlation_id"] == response["X-Correlation-ID"]
    after = (Order.objects.count(), Payment.objects.count(), Refund.objects.count(), Event.objects.count())
    assert after == before  # nothing written


def test_sent_correlation_id_is_echoed_in_header_and_envelope(alice):
    response = pay(alice, {"amount": 99, "method": "upi", "vpa": "a@b"}, HTTP_X_CORRELATION_ID="merchant-trace-1")
    assert response["X-Correlation-ID"] == "merchant-trace-1"
    assert response.json()["error"]["correlation_id"] == "merchant-trace-1"
    ok = pay(alice, {"amount": 100, "method": "upi", "vpa": "a@b"}, HTTP_X_CORRELATION_ID="merchant-trace-2")
    assert ok["X-Correlation-ID"] == "merchant-trace-2"


def test_trailing_slash_is_an_enveloped_404_not_a_redirect(alice):
    assert pay(alice, {"amount": 500, "method": "upi", "vpa": "a@b"}).status_code == 201
    response = alice.client.post("/api/v1/payments/", {"amount": 500, "method": "upi", "vpa": "a@b"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["reason"] == "unknown_endpoint"
    assert Payment.objects.count() == 1  # only the first, slash-less request


def test_rate_limited_create_is_429_with_retry_after_and_writes_nothing(alice, redis_client, monkeypatch, settings):
    from common.http import throttling

    monkeypatch.setattr(throttling.time, "time", lambda: 1_800_000_000.5)  # one fixed window
    settings.API_RATE_LIMIT_PER_SECOND = 1
    assert pay(alice, {"amount": 500, "method": "upi", "vpa": "a@b"}).status_code == 201
    limited = pay(alice, {"amount": 500, "method": "upi", "vpa": "a@b"})
    assert limited.status_code == 429
    assert limited["Retry-After"] == "1"
    body = assert_conforms(limited, "/api/v1/payments", "post")
    assert (body["error"]["code"], body["error"]["reason"]) == ("RATE_LIMIT_ERROR", "rate_limited")
    assert Payment.objects.count() == 1


# --- input boundaries not pinned elsewhere -------------------------------------------------


def _luhn_complete(prefix: str, length: int = 16) -> str:
    """``prefix`` padded with zeros to ``length`` digits, last digit chosen for Luhn."""
    body = prefix + "0" * (length - len(prefix) - 1)
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


def _month(offset: int) -> tuple[int, int]:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + offset
    return index % 12 + 1, index // 12


@pytest.mark.parametrize(
    ("prefix", "network"),
    [
        ("4", "visa"),
        ("50", "unknown"),
        ("51", "mastercard"),
        ("53", "mastercard"),
        ("55", "mastercard"),
        ("56", "unknown"),
        ("2221", "unknown"),  # Mastercard's 2-series is outside issue 3's rule (51-55)
        ("33", "unknown"),
        ("34", "amex"),
        ("35", "unknown"),
        ("36", "unknown"),
        ("37", "amex"),
        ("38", "unknown"),
        ("59", "unknown"),
        ("60", "rupay"),
        ("61", "unknown"),
        ("64", "unknown"),
        ("65", "rupay"),
        ("66", "unknown"),
        ("80", "unknown"),
        ("81", "rupay"),
        ("85", "rupay"),
        ("89", "rupay"),
        ("90", "unknown"),
    ],
)
def test_card_network_detection_boundaries(alice, order, prefix, network):
    response = pay(alice, {"order_id": order.id, "method": "card", "card": card(_luhn_complete(prefix))})
    assert response.status_code == 201, response.json()
    assert response.json()["card_network"] == network
    assert Payment.objects.get().card_network == network


@pytest.mark.parametrize(
    ("number", "last4"),
    [
        (_luhn_complete("4", 13), None),  # 13 digits: the shortest accepted
        (_luhn_complete("4", 19), None),
        ("4111 1111 1111 1111", "1111"),
        ("4111-1111-1111-1111", "1111"),
        (" 4111 1111 1111 1111 ", "1111"),
    ],
)
def test_card_number_lengths_and_separators_accepted(alice, order, number, last4):
    response = pay(alice, {"order_id": order.id, "method": "card", "card": card(number)})
    assert response.status_code == 201, response.json()
    assert response.json()["card_last4"] == (last4 or number[-4:])


@pytest.mark.parametrize(
    ("overrides", "field", "code", "reason"),
    [
        ({"number": ""}, "card.number", "INVALID_CARD", "invalid_number"),
        ({"number": "4111\t1111\t1111\t1111"}, "card.number", "INVALID_CARD", "invalid_number"),
        ({"number": "\uff14" + "\uff11" * 15}, "card.number", "INVALID_CARD", "invalid_number"),  # fullwidth digits
        ({"number": _luhn_complete("4", 12)}, "card.number", "INVALID_CARD", "invalid_number"),
        ({"number": _luhn_complete("4", 20)}, "card.number", "INVALID_CARD", "invalid_number"),
        ({"number": "4111111111111112"}, "card.number", "INVALID_CARD", "luhn_check_failed"),
        ({"number": None}, "card.number", "BAD_REQUEST_ERROR", "required"),
        ({"number": ["4111111111111111"]}, "card.number", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_month": None}, "card.expiry_month", "BAD_REQUEST_ERROR", "required"),
        ({"expiry_month": 12.0}, "card.expiry_month", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_month": True}, "card.expiry_month", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_month": ""}, "card.expiry_month", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_month": "13"}, "card.expiry_month", "INVALID_CARD", "invalid_expiry_month"),
        ({"expiry_month": "00"}, "card.expiry_month", "INVALID_CARD", "invalid_expiry_month"),
        ({"expiry_month": -1}, "card.expiry_month", "INVALID_CARD", "invalid_expiry_month"),
        ({"expiry_month": "000012"}, "card.expiry_month", "INVALID_CARD", "invalid_expiry_month"),
        ({"expiry_year": None}, "card.expiry_year", "BAD_REQUEST_ERROR", "required"),
        ({"expiry_year": 2099.0}, "card.expiry_year", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_year": "20x9"}, "card.expiry_year", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"expiry_year": 9}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": "9"}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": "209"}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": 20999}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": "20999"}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": "9" * 5000}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": -1}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"expiry_year": -2099}, "card.expiry_year", "INVALID_CARD", "invalid_expiry_year"),
        ({"cvv": None}, "card.cvv", "BAD_REQUEST_ERROR", "required"),
        ({"cvv": ""}, "card.cvv", "INVALID_CARD", "invalid_cvv"),
        ({"cvv": "12a"}, "card.cvv", "INVALID_CARD", "invalid_cvv"),
        ({"cvv": " 123"}, "card.cvv", "INVALID_CARD", "invalid_cvv"),
        ({"cvv": "١٢٣"}, "card.cvv", "INVALID_CARD", "invalid_cvv"),  # Arabic-Indic digits
        ({"holder_name": 5}, "card.holder_name", "BAD_REQUEST_ERROR", "invalid_type"),
        ({"holder_name": "x" * 101}, "card.holder_name", "BAD_REQUEST_ERROR", "invalid_type"),
    ],
)
def test_bad_card_fields(alice, order, overrides, field, code, reason):
    response = pay(alice, {"order_id": order.id, "method": "card", "card": card(**overrides)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == (code, field, reason)
    assert "4111111111111111" not in response.content.decode()
    assert nothing_written()


@pytest.mark.parametrize(
    "overrides",
    [
        {"cvv": "1234"},  # 4 digits (amex style) is the upper bound
        {"cvv": "000"},
        {"expiry_month": "07", "expiry_year": "2099"},  # the seed API's string form
        {"expiry_month": 1, "expiry_year": 99},  # a 2-digit integer year is 20yy
        {"holder_name": None},
        {"holder_name": ""},
        {"holder_name": "x" * 100},
    ],
)
def test_card_field_forms_accepted(alice, order, overrides):
    response = pay(alice, {"order_id": order.id, "method": "card", "card": card(**overrides)})
    assert response.status_code == 201, response.json()


def test_holder_name_is_optional(alice, order):
    body = card()
    del body["holder_name"]
    response = pay(alice, {"order_id": order.id, "method": "card", "card": body})
    assert response.status_code == 201
    assert Payment.objects.get().card_last4 == "1111"


@pytest.mark.parametrize(
    ("offset", "two_digit_year", "status"),
    [
        (0, True, 201),  # this month, "MM/YY" style: valid through its last day
        (-1, True, 400),
        (-12, False, 400),  # the same month last year
        (1, False, 201),
    ],
)
def test_expiry_month_boundaries(alice, order, offset, two_digit_year, status):
    month, year = _month(offset)
    year_value = f"{year % 100:02d}" if two_digit_year else year
    response = pay(
        alice,
        {"order_id": order.id, "method": "card", "card": card(expiry_month=month, expiry_year=year_value)},
    )
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == "EXPIRED_CARD"
        assert nothing_written()


@pytest.mark.parametrize(
    "vpa",
    [
        "user@bank\n",  # "$" of the issue's regex must not accept a trailing newline
        "user@bank ",
        " user@bank",
        "user@ba-nk",
        "user@bank.in",
        "us er@bank",
        "a@b@c",
        "",
        "ü@bank",
        "user@bänk",
        "user@bank\u00a0",
        "user@",
        "@bank",
        "x" * 252 + "@bank",  # 257 characters: above the 255 we store
    ],
)
def test_vpa_must_match_the_whole_regex(alice, order, vpa):
    response = pay(alice, {"order_id": order.id, "method": "upi", "vpa": vpa})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("INVALID_VPA", "vpa", "invalid_vpa")
    assert nothing_written()


@pytest.mark.parametrize("vpa", ["A.b_c-d@Bank1", "9876543210@ybl", "x" * 246 + "@bank"])
def test_vpa_forms_accepted_and_stored_verbatim(alice, order, vpa):
    response = pay(alice, {"order_id": order.id, "method": "upi", "vpa": vpa})
    assert response.status_code == 201
    assert response.json()["vpa"] == vpa
    assert Payment.objects.get().vpa == vpa


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"amount": 100.0, "method": "upi", "vpa": "a@b"}, "amount", "invalid_type"),
        ({"amount": True, "method": "upi", "vpa": "a@b"}, "amount", "invalid_type"),
        ({"amount": None, "method": "upi", "vpa": "a@b"}, "amount", "required"),
        ({"amount": 10**12 + 1, "method": "upi", "vpa": "a@b"}, "amount", "amount_too_large"),
        ({"amount": -100, "method": "upi", "vpa": "a@b"}, "amount", "amount_too_small"),
        ({"amount": 500, "currency": 356, "method": "upi", "vpa": "a@b"}, "currency", "invalid_currency"),
        ({"amount": 500, "currency": "inr", "method": "upi", "vpa": "a@b"}, "currency", "invalid_currency"),
        ({"amount": 500, "method": 1, "vpa": "a@b"}, "method", "invalid_method"),
        ({"amount": 500, "method": "UPI", "vpa": "a@b"}, "method", "invalid_method"),
        ({"amount": 500, "method": ["upi"], "vpa": "a@b"}, "method", "invalid_method"),
        ({"amount": 500, "method": "upi", "vpa": ["a@b"]}, "vpa", "invalid_type"),
        ({"amount": 500, "method": "card", "card": [VISA_OK]}, "card", "invalid_type"),
        ({"amount": 500, "method": "card"}, "card", "required"),
        ({"order_id": {"id": "order_x"}, "method": "upi", "vpa": "a@b"}, "order_id", "invalid_type"),
        ({"amount": 500, "method": "upi", "vpa": "a@b", "callback_url": 5}, "callback_url", "invalid_type"),
    ],
)
def test_wrong_types_on_payment_create(alice, body, field, reason):
    response = pay(alice, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", field, reason)
    assert nothing_written()
    assert not Order.objects.exists()


def test_amount_upper_bound_is_accepted(alice):
    response = alice.client.post("/api/v1/orders", {"amount": 10**12}, format="json")
    assert response.status_code == 201
    assert response.json()["amount"] == 10**12
    too_large = alice.client.post("/api/v1/orders", {"amount": 10**12 + 1}, format="json")
    assert too_large.json()["error"]["reason"] == "amount_too_large"


def test_order_notes_accept_strings_and_integers_only(alice):
    ok = alice.client.post("/api/v1/orders", {"amount": 500, "notes": {"a": "x", "b": 7}}, format="json")
    assert ok.status_code == 201
    assert ok.json()["notes"] == {"a": "x", "b": "7"}
    for bad in ({"a": None}, {"a": {"b": "c"}}, {"a": True}, {"a": "x" * 257}, {str(i): "v" for i in range(16)}):
        response = alice.client.post("/api/v1/orders", {"amount": 500, "notes": bad}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"].startswith("notes")
    assert Order.objects.count() == 1


# --- ids, public endpoints, lists --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ids_have_their_documented_formats(alice, paid):
    from tests.support.processes import wait_for

    payment = pay(alice, {"amount": 500, "method": "upi", "vpa": "a@b"}).json()
    assert is_public_id(payment["id"], "pay")
    assert is_public_id(payment["order_id"], "order")  # the implicit order too
    refund = alice.client.post(f"/api/v1/payments/{paid.id}/refunds", {"amount": 100}, format="json").json()
    assert is_public_id(refund["id"], "rfnd")
    wait_for(lambda: alice.client.get("/api/v1/events").json()["data"], timeout=60, message="visible events")
    event_ids = [e["id"] for e in alice.client.get("/api/v1/events").json()["data"]]
    assert event_ids and all(re.fullmatch(r"evt_[A-Za-z0-9]{24}", event_id) for event_id in event_ids)


def _documented_event_types() -> set[str]:
    """The event types docs/payments.md lists as every type a merchant can receive."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "payments.md").read_text()
    paragraph = text[text.index("Every event type a merchant can receive") :]
    paragraph = paragraph[: paragraph.index("\n\n")]
    return set(re.findall(r"`([a-z_]+\.[a-z_]+)`", paragraph))


def _drive_every_lifecycle(tenant, settings) -> None:
    """Each lifecycle through the code a real request, worker or provider runs: payments to
    every outcome, refunds, a batch, a reconciliation run, webhook endpoints and an event
    destination whose broker is down."""
    from payments.outbox import outbox_dispatch_all
    from payments.services.payments import payment_process
    from payments.services.provider_events import provider_outcome_apply
    from payments.services.refunds import refund_process
    from reconciliation.services.runs import reconciliation_run
    from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv
    from tests.support.processes import free_port
    from webhooks.destinations.publishing import broker_connections_close, destination_publish
    from webhooks.services.endpoints import endpoint_create, endpoint_disable

    client = tenant.client
    settings.EVENT_DESTINATION_NOTIFY_AFTER_SECONDS = 0
    destination = client.post(  # its broker is down: it publishes nothing, and says so with an event
        "/api/v1/event-destinations",
        {"type": "redis_stream", "target": {"url": f"redis://127.0.0.1:{free_port()}/0", "stream": "x"}},
        format="json",
    )
    assert destination.status_code == 201, destination.json()

    def paid(**body) -> dict:
        created = client.post(
            "/api/v1/payments", {"amount": 5000, "method": "upi", "vpa": "a@b", **body}, format="json"
        )
        assert created.status_code == 201, created.json()
        payment_process(payment_id=created.json()["id"])
        return created.json()

    def outcome(object_type: str, object_id: str, status: str, expect: str = "applied") -> None:
        result, detail = provider_outcome_apply(object_type=object_type, object_id=object_id, status=status, source="t")
        assert result == expect, (object_type, status, result, detail)

    succeeded = paid()  # payment.created, payment.pending
    outcome("payment", succeeded["id"], "success")
    assert client.post(f"/api/v1/payments/{succeeded['id']}/capture").status_code == 200
    outcome("payment", paid()["id"], "failed")
    cancelled = client.post("/api/v1/payments", {"amount": 5000, "method": "upi", "vpa": "a@b"}, format="json")
    assert client.post(f"/api/v1/payments/{cancelled.json()['id']}/cancel").status_code == 200
    second = client.post(
        "/api/v1/payments", {"order_id": cancelled.json()["order_id"], "method": "upi", "vpa": "a@b"}, format="json"
    ).json()
    third = client.post(
        "/api/v1/payments", {"order_id": cancelled.json()["order_id"], "method": "upi", "vpa": "a@b"}, format="json"
    ).json()
    for payment in (second, third):
        payment_process(payment_id=payment["id"])
    outcome("payment", second["id"], "success")
    outcome("payment", third["id"], "success", expect="conflict")  # the order's second charge: payment.duplicate
    for status in ("processed", "failed"):
        refund = client.post(f"/api/v1/payments/{succeeded['id']}/refunds", {"amount": 100}, format="json").json()
        refund_process(refund_id=refund["id"])
        outcome("refund", refund["id"], status)
    batch = client.post(
        "/api/v1/payments/batch",
        {"reference": "b1", "items": [{"reference": "i1", "amount": 5000, "vpa": "a@b"}]},
        format="json",
    ).json()
    [item] = Payment.objects.filter(batch_id=batch["id"])
    payment_process(payment_id=item.id)
    outcome("payment", item.id, "success")
    outbox_dispatch_all()  # the batch completes when the outbox hands its last payment's event on
    mismatch = payment_make(tenant.merchant, status="success")
    reconciliation_run(
        provider="simulator",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        content=settlement_csv([line_for(mismatch, amount=1)]),
    )
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint = endpoint_create(merchant=tenant.merchant, url="http://127.0.0.1:9/hook", actor="test")
    assert client.post(f"/api/v1/webhook-endpoints/{endpoint.id}/test").status_code == 202
    endpoint_disable(endpoint=endpoint, reason="failing", actor="test")
    destination_publish(destination_id=destination.json()["id"], time_budget=2)
    broker_connections_close()


@pytest.mark.django_db(transaction=True)  # the destination's publisher reads committed events only
def test_the_event_types_the_code_emits_are_the_documented_ones(alice, simulator, settings):
    _drive_every_lifecycle(alice, settings)
    emitted = set(Event.objects.filter(merchant=alice.merchant).values_list("type", flat=True))
    documented = _documented_event_types()
    assert emitted == documented, (sorted(emitted - documented), sorted(documented - emitted))
    assert set(EVENT_TYPES) == documented  # what endpoints and destinations may subscribe to


def test_public_endpoints_ignore_credentials_and_need_none(alice, order):
    garbage = APIClient()
    garbage.credentials(HTTP_X_API_KEY="key_test_nope", HTTP_X_API_SECRET="wrong")
    assert garbage.get(f"/api/v1/orders/{order.id}/public").status_code == 200
    created = garbage.post(
        "/api/v1/payments/public", {"order_id": order.id, "method": "upi", "vpa": "a@b"}, format="json"
    )
    assert created.status_code == 201
    assert garbage.get(f"/api/v1/payments/{created.json()['id']}/public").status_code == 200
    assert garbage.get(f"/api/v1/payments/{created.json()['id']}").status_code == 401


def test_public_create_validates_like_the_merchant_api(anon, order):
    bad_card = anon.post(
        "/api/v1/payments/public",
        {"order_id": order.id, "method": "card", "card": card(expiry_year=2020)},
        format="json",
    )
    assert bad_card.json()["error"]["code"] == "EXPIRED_CARD"
    bad_vpa = anon.post("/api/v1/payments/public", {"order_id": order.id, "method": "upi", "vpa": "x"}, format="json")
    assert bad_vpa.json()["error"]["code"] == "INVALID_VPA"
    assert nothing_written()


def test_payment_list_created_range_is_inclusive_then_exclusive(alice):
    moment = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)
    at = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    later = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    Payment.objects.filter(pk=at.pk).update(created_at=moment)
    Payment.objects.filter(pk=later.pk).update(created_at=moment + timedelta(milliseconds=1))

    def ids(query):
        response = alice.client.get("/api/v1/payments", query)
        assert response.status_code == 200
        return {p["id"] for p in response.json()["data"]}

    assert ids({"created_after": "2030-05-01T12:00:00Z"}) == {at.id, later.id}
    assert ids({"created_before": "2030-05-01T12:00:00Z"}) == set()
    assert ids({"created_after": "2030-05-01T12:00:00Z", "created_before": "2030-05-01T12:00:00.001Z"}) == {at.id}
    assert ids({"created_after": "2030-05-01T17:30:00+05:30"}) == {at.id, later.id}  # offsets are honoured


def test_payment_list_filters_combine_and_page(alice, bob):
    orders = [OrderFactory(merchant=alice.merchant) for _ in range(2)]
    upi = [PaymentFactory(order=orders[0], status="failed") for _ in range(3)]
    PaymentFactory(order=orders[1], method="card", vpa=None, card_network="visa", card_last4="1111", status="failed")
    PaymentFactory(order=orders[1], status="success")
    PaymentFactory(order=OrderFactory(merchant=bob.merchant), status="failed")
    page = alice.client.get("/api/v1/payments", {"status": "failed", "method": "upi", "limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["data"])) == (3, 2, 0, 2)
    rest = alice.client.get("/api/v1/payments", {"status": "failed", "method": "upi", "limit": 2, "offset": 2}).json()
    assert {p["id"] for p in page["data"] + rest["data"]} == {p.id for p in upi}
    by_order = alice.client.get("/api/v1/payments", {"order_id": orders[1].id}).json()
    assert by_order["total"] == 2
    assert alice.client.get("/api/v1/payments", {"order_id": orders[0].id, "status": "success"}).json()["total"] == 0


def test_payment_list_is_newest_first(alice):
    first = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    second = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    Payment.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert [p["id"] for p in alice.client.get("/api/v1/payments").json()["data"]] == [second.id, first.id]


def test_refund_get_reports_processed_at(alice, paid):
    refund = RefundFactory(payment=paid, status="processed", processed_at=timezone.now())
    body = alice.client.get(f"/api/v1/refunds/{refund.id}").json()
    assert body["status"] == "processed"
    assert ISO_UTC.match(body["processed_at"])


# --- idempotency on every mutating endpoint ---------------------------------------------------

MUTATIONS = [
    # (label, path, body)
    ("orders", "/api/v1/orders", {"amount": 500}),
    ("payments", "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "a@b"}),
    ("capture", "/api/v1/payments/{paid}/capture", {}),
    ("cancel", "/api/v1/payments/{pending}/cancel", {}),
    ("nested refund", "/api/v1/payments/{paid}/refunds", {"amount": 100}),
    ("refund alias", "/api/v1/refunds", {"payment_id": "{paid}", "amount": 100}),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def targets(alice, paid):
    pending = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    return {"paid": paid.id, "pending": pending.id}


def _effects() -> tuple[int, ...]:
    return (
        Order.objects.count(),
        Payment.objects.count(),
        Refund.objects.count(),
        Event.objects.count(),
        Payment.objects.filter(captured=True).count(),
        Payment.objects.filter(status="cancelled").count(),
    )


@pytest.mark.parametrize(("path", "body"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_idempotent_replay_on_every_mutating_endpoint(alice, targets, path, body):
    path, body = _fill(path, targets), _fill(body, targets)
    before = _effects()
    first = alice.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    after_first = _effects()
    second = alice.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code in (200, 201)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second["Idempotent-Replayed"] == "true"
    assert after_first != before
    assert _effects() == after_first  # the replay had no effect


@pytest.mark.parametrize(("path", "body"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_in_flight_key_is_409_with_retry_after_on_every_mutating_endpoint(alice, targets, path, body):
    from payments.services.idempotency import idempotency_request_hash

    path, body = _fill(path, targets), _fill(body, targets)
    IdempotencyKey.objects.create(
        merchant=alice.merchant,
        key="busy",
        request_method="POST",
        request_path=path,
        request_hash=idempotency_request_hash(method="POST", path=path, body=body),
        locked_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    before = _effects()
    response = alice.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert (error["code"], error["reason"]) == ("CONFLICT_ERROR", "idempotency_key_in_flight")
    assert _effects() == before


@pytest.mark.parametrize(("path", "body"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_key_reused_with_another_body_is_400_on_every_mutating_endpoint(alice, targets, path, body):
    path, body = _fill(path, targets), _fill(body, targets)
    first = alice.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="once")
    assert first.status_code in (200, 201)
    before = _effects()
    # Another valid body: a declared field changed (bodies with unknown fields are refused).
    other = {**body, "amount": body["amount"] + 1} if "amount" in body else {"note": "no body is read"}
    response = alice.client.post(path, other, format="json", HTTP_IDEMPOTENCY_KEY="once")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["reason"]) == ("BAD_REQUEST_ERROR", "idempotency_key_reused")
    assert _effects() == before


def test_public_create_in_flight_key_is_409(alice, anon, order):
    from payments.services.idempotency import idempotency_request_hash

    body = {"order_id": order.id, "method": "upi", "vpa": "a@b"}
    IdempotencyKey.objects.create(
        merchant=alice.merchant,
        key="checkout:busy",
        request_method="POST",
        request_path="/api/v1/payments/public",
        request_hash=idempotency_request_hash(method="POST", path="/api/v1/payments/public", body=body),
        locked_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    response = anon.post("/api/v1/payments/public", body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert assert_conforms(response, "/api/v1/payments/public", "post")["error"]["code"] == "CONFLICT_ERROR"
    assert not Payment.objects.exists()


# --- request schemas describe the rules the API applies --------------------------------------

ACCEPTED_REQUESTS = [
    ("/api/v1/orders", {"amount": 100}),
    ("/api/v1/orders", {"amount": 500, "currency": "USD", "receipt": "", "notes": {"a": "b"}, "callback_url": None}),
    ("/api/v1/payments", {"amount": 100, "method": "upi", "vpa": "A.b_c-d@Bank1"}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(cvv="1234")}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(expiry_month="07", expiry_year="99")}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card("4111 1111-1111 1111", holder_name=None)}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(holder_name="")}),
]
REFUSED_REQUESTS = [
    ("/api/v1/orders", {"amount": 99}),
    ("/api/v1/orders", {"amount": "100"}),
    ("/api/v1/orders", {"amount": 100, "receipt": "x" * 65}),
    ("/api/v1/payments", {"amount": 100, "method": "cash"}),
    ("/api/v1/payments", {"amount": 100, "method": "upi", "vpa": "a@bank.in"}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(cvv="12")}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(cvv=123)}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": card(expiry_year="20x9")}),
    ("/api/v1/payments", {"amount": 100, "method": "card", "card": {"number": VISA_OK, "cvv": "123"}}),
]


@pytest.mark.parametrize(("path", "body"), ACCEPTED_REQUESTS)
def test_request_schema_admits_what_the_api_accepts(alice, path, body):
    jsonschema.validate(body, request_schema(path))
    assert alice.client.post(path, body, format="json").status_code == 201


@pytest.mark.parametrize(("path", "body"), REFUSED_REQUESTS)
def test_request_schema_refuses_what_the_api_refuses(alice, path, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, request_schema(path))
    assert alice.client.post(path, body, format="json").status_code == 400
