"""One way to write an endpoint (issue 14): every list pages through common.http.pagination
with the same limits and the same 400, the dashboard's JSON views answer in the API's envelope
(malformed JSON included), and the mechanisms that existed twice now exist once."""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import pytest
from django.test import Client

from payments.event_patterns import ALL, event_type_matches, event_types_q
from payments.models import Event, Payment, PaymentBatch
from payments.snapshots import payment_public_snapshot
from payments.states import EVENT_TYPES
from realtime.push import event_messages
from realtime.services import merchant_user_link
from tests.payments.factories import PaymentFactory
from tests.realtime.helpers import make_payment, settle
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


@cache
def _openapi() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _paged_operations() -> dict[str, tuple[str, dict[str, Any]]]:
    """operation id -> (path, the ``limit`` parameter's schema) of every operation with ``limit``."""
    found = {}
    for path, item in _openapi()["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["in"] == "query" and parameter["name"] == "limit":
                    assert method == "get", (method, path)
                    found[operation["operationId"]] = (path, parameter["schema"])
    return found


def test_every_list_refuses_a_limit_outside_the_documented_range_with_the_same_400(alice):
    payment = PaymentFactory(order__merchant=alice.merchant)
    customer = alice.client.post("/api/v1/customers", {"email": "c@example.com"}, format="json").json()
    batch = PaymentBatch.objects.create(merchant=alice.merchant, reference="b1", total=0, accepted=0)
    ids = {"customer_id": customer["id"], "batch_id": batch.id, "payment_id": payment.id}
    operations = _paged_operations()
    assert {
        "orders_list",
        "payments_list",
        "refunds_list",
        "customers_list",
        "events_list",
        "webhooks_list",
        "webhooks_logs",
        "reconciliation_runs_list",
        "reconciliation_discrepancies_list",
        "notifications_list",
        "payments_batch_get",
    } <= set(operations)
    for operation_id, (path, limit) in operations.items():
        assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 100), operation_id
        url = "/api" + path if not path.startswith("/api") else path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)
        assert "{" not in url, url
        assert alice.client.get(url, {"limit": 1}).status_code == 200, operation_id
        for bad in ("0", "101", "-1", "y", "1.0", ""):
            response = alice.client.get(url, {"limit": bad})
            assert response.status_code == 400, (operation_id, bad)
            error = response.json()["error"]
            assert (error["code"], error["field"], error["reason"]) == (
                "BAD_REQUEST_ERROR",
                "limit",
                "invalid_query",
            ), (operation_id, bad)


# --- the dashboard's JSON views ------------------------------------------------------------


@pytest.fixture
def owner(alice) -> Client:
    client = Client()
    client.force_login(merchant_user_link(merchant=alice.merchant, email="owner@alice.example"))
    return client


CONFIG, BATCHES = "/dashboard/api/webhooks/config", "/dashboard/api/batches"
BAD_BODIES = [
    (path, body, reason)
    for path in (CONFIG, BATCHES)
    for body, reason in [
        (b"{not json", "malformed_body"),
        (b'{"url": ', "malformed_body"),
        (b"[]", "invalid_body"),
        (b"null", "invalid_body"),
        (b'{"url": "\\u0000"}', "nul_byte"),
    ]
] + [(CONFIG, b'{"nope": 1}', "unknown_field"), (BATCHES, b'{"reference": 5, "items": []}', "invalid_type")]


@pytest.mark.parametrize(("path", "body", "reason"), BAD_BODIES)
def test_a_dashboard_json_view_refuses_a_bad_body_with_the_api_envelope(owner, alice, path, body, reason):
    response = owner.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["reason"]) == ("BAD_REQUEST_ERROR", reason)
    assert set(error) == {"code", "description", "field", "reason", "correlation_id"}
    assert not PaymentBatch.objects.exists()
    assert alice.merchant.webhook_endpoints.filter(url__gt="").count() == 0


def test_the_dashboard_webhook_url_is_declared_as_a_string(owner, alice):
    response = owner.post("/dashboard/api/webhooks/config", {"url": 5}, content_type="application/json")
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["reason"]) == ("url", "invalid_type")
    form = owner.post("/dashboard/api/webhooks/config", {"url": "https://x.example/"})  # a form, not JSON
    assert form.status_code == 415
    assert form.json()["error"]["reason"] == "unsupported_media_type"


def test_dashboard_json_refusals_render_like_the_api(owner, alice, bob):
    bad_cursor = owner.get("/dashboard/api/payments/older", {"before": "!"})
    assert bad_cursor.status_code == 400
    assert (bad_cursor.json()["error"]["field"], bad_cursor.json()["error"]["reason"]) == ("before", "invalid_cursor")
    theirs = PaymentFactory(order__merchant=bob.merchant)
    missing = owner.get(f"/dashboard/api/payments/{theirs.id}/detail")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert set(missing.json()["error"]) == {"code", "description", "field", "reason", "correlation_id"}


# --- mechanisms that existed twice ----------------------------------------------------------


def test_event_type_patterns_match_the_same_types_in_python_and_in_sql(alice):
    for event_type in EVENT_TYPES:
        Event.objects.create(
            merchant=alice.merchant, type=event_type, object_type="x", object_id=event_type, version=1, data={}
        )
    families = sorted({t.split(".")[0] + ".*" for t in EVENT_TYPES})
    singles = [[p] for p in (ALL, *families, *EVENT_TYPES, "payment", "payment*", "nope.*")]
    pairs = [list(pair) for pair in itertools.combinations(["payment.*", "refund.processed", "webhook.test"], 2)]
    for patterns in [[], *singles, *pairs]:
        in_python = {t for t in EVENT_TYPES if event_type_matches(patterns, t)}
        in_sql = set(
            Event.objects.filter(merchant=alice.merchant).filter(event_types_q(patterns)).values_list("type", flat=True)
        )
        assert in_python == in_sql, patterns
    assert {t for t in EVENT_TYPES if event_type_matches(["payment.*"], t)} == {
        t for t in EVENT_TYPES if t.startswith("payment.")
    }


@pytest.mark.django_db(transaction=True)  # the events API lists committed events below the visibility horizon
def test_star_is_every_type_in_both_list_filters(alice, settings):
    from tests.support.processes import wait_for

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/a", actor="test")
    settle(make_payment(merchant=alice.merchant), "success")
    wait_for(lambda: len(alice.client.get("/api/v1/events").json()["data"]) == 2, timeout=60, message="visible events")
    every = alice.client.get("/api/v1/events").json()["data"]
    assert alice.client.get("/api/v1/events", {"type": "*"}).json()["data"] == every
    deliveries = alice.client.get("/api/v1/webhooks").json()["total"]
    assert deliveries == 2  # payment.created and payment.success
    assert alice.client.get("/api/v1/webhooks", {"event": "*"}).json()["total"] == deliveries


def test_the_push_and_the_api_show_the_checkout_the_same_projection(alice):
    payment = settle(make_payment(merchant=alice.merchant), "success")
    event = Event.objects.filter(object_id=payment.id).order_by("-seq").first()
    [(_, _merchant), (_, update)] = event_messages(event)
    payment = Payment.objects.get(pk=payment.id)
    assert update["payment"] == payment_public_snapshot(payment)
    public = alice.client.get(f"/api/v1/payments/{payment.id}/public").json()
    assert public == update["payment"]


def test_notifications_are_merchant_scoped(alice, bob):
    theirs = PaymentFactory(order__merchant=alice.merchant)
    listed = bob.client.get("/api/v1/notifications", {"payment_id": theirs.id}).json()
    assert (listed["data"], listed["total"]) == ([], 0)
    before = alice.client.get("/api/v1/notification-settings").json()
    changed = bob.client.patch(
        "/api/v1/notification-settings", {"email_enabled": not before["email_enabled"]}, format="json"
    )
    assert changed.status_code == 200
    assert alice.client.get("/api/v1/notification-settings").json() == before


# --- tenancy: every API URL that names an object --------------------------------------------

# What another merchant's call sends to each operation that names an object (a body the
# operation would accept, so the 404 is the object's, not a 400 of the input).
OBJECT_OPERATIONS: dict[str, dict[str, Any] | None] = {
    "customers_get": None,
    "customers_update": {"name": "Intruder"},
    "customers_payment_methods_list": None,
    "customers_payment_methods_create": {"type": "upi", "vpa": "intruder@upi"},
    "customers_payment_methods_get": None,
    "customers_payment_methods_delete": None,
    "event_destinations_get": None,
    "event_destinations_update": {"enabled": False},
    "event_destinations_delete": None,
    "event_destinations_replay": {"since": "2020-01-01T00:00:00Z"},
    "events_get": None,
    "orders_get": None,
    "payments_get": None,
    "payments_cancel": None,
    "payments_capture": None,
    "payments_refunds_create": {"amount": 100},
    "payments_status": None,
    "payments_batch_get": None,
    "reconciliation_discrepancies_get": None,
    "reconciliation_runs_get": None,
    "refunds_get": None,
    "webhook_endpoints_get": None,
    "webhook_endpoints_update": {"enabled": False},
    "webhook_endpoints_delete": None,
    "webhook_endpoints_recover": {"since": "2020-01-01T00:00:00Z"},
    "webhook_endpoints_rotate_secret": {},
    "webhook_endpoints_test": None,
    "webhooks_get": None,
    "webhooks_attempts": None,
    "webhooks_retry": None,
}
# The order and payment ids are the hosted checkout's capability, shown to anyone who has them;
# a provider's notifications are signed by the provider, not by a merchant.
NOT_MERCHANT_SCOPED = {"orders_public_get", "payments_public_get", "provider_webhooks_receive"}


def _object_operations() -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (method, path)
        for path, item in _openapi()["paths"].items()
        if "{" in path
        for method, operation in item.items()
        if isinstance(operation, dict)
    }


def _alice_objects(alice, settings) -> dict[str, str]:
    from reconciliation.models import Discrepancy
    from reconciliation.services.runs import reconciliation_run
    from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv
    from webhooks.models import WebhookDelivery

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/a", actor="test")
    payment = settle(make_payment(merchant=alice.merchant), "success")
    refund = alice.client.post(f"/api/v1/payments/{payment.id}/refunds", {"amount": 100}, format="json").json()
    customer = alice.client.post("/api/v1/customers", {"email": "c@example.com"}, format="json").json()
    method = alice.client.post(
        f"/api/v1/customers/{customer['id']}/payment-methods", {"type": "upi", "vpa": "c@upi"}, format="json"
    ).json()
    destination = alice.client.post(
        "/api/v1/event-destinations",
        {"type": "redis_stream", "target": {"url": settings.REDIS_URL, "stream": "tender-test-tenancy"}},
        format="json",
    ).json()
    run = reconciliation_run(
        provider="simulator",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        content=settlement_csv([line_for(payment_make(alice.merchant, status="success"), amount=1)]),
    ).run
    batch = PaymentBatch.objects.create(merchant=alice.merchant, reference="b1", total=1, accepted=1)
    return {
        "customer_id": customer["id"],
        "payment_method_id": method["id"],
        "destination_id": destination["id"],
        "event_id": Event.objects.filter(merchant=alice.merchant).first().id,
        "order_id": payment.order_id,
        "payment_id": payment.id,
        "batch_id": batch.id,
        "discrepancy_id": Discrepancy.objects.get(merchant=alice.merchant).id,
        "run_id": run.id,
        "refund_id": refund["id"],
        "endpoint_id": endpoint.id,
        "delivery_id": WebhookDelivery.objects.filter(merchant=alice.merchant).first().id,
    }


def test_every_api_url_naming_an_object_is_404_for_another_merchant_and_changes_nothing(alice, bob, settings):
    operations = _object_operations()
    assert set(operations) == set(OBJECT_OPERATIONS) | NOT_MERCHANT_SCOPED, "an object URL has no tenancy case"
    ids = _alice_objects(alice, settings)
    urls = {}
    for operation_id, (method, path) in operations.items():
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)
        urls[operation_id] = (method, url)
    reads = {op: url for op, (method, url) in urls.items() if method == "get" and op in OBJECT_OPERATIONS}
    before = {op: alice.client.get(url).json() for op, url in reads.items()}
    assert all("error" not in body for body in before.values()), before
    for operation_id, body in OBJECT_OPERATIONS.items():
        method, url = urls[operation_id]
        response = getattr(bob.client, method)(url, body, format="json")
        assert response.status_code == 404, (operation_id, response.status_code, response.content[:200])
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR", operation_id
    assert {op: alice.client.get(url).json() for op, url in reads.items()} == before
