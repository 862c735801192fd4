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


def test_star_is_every_type_in_both_list_filters(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/a", actor="test")
    settle(make_payment(merchant=alice.merchant), "success")
    every = alice.client.get("/api/v1/events").json()["data"]
    assert every
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
