"""The webhook endpoints and delivery-log API: CRUD, rotation, test, recover, logs,
retry (audited), validation errors in the envelope, and another merchant's ids -> 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.outbox import outbox_dispatch_all
from tests.webhooks.conftest import payment_make, payment_succeed
from webhooks.models import WebhookAudit, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


def _create(tenant, **body):
    response = tenant.client.post("/api/v1/webhook-endpoints", {"url": URL, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_secret_once_and_lists(alice):
    created = _create(alice, description="orders", event_types=["payment.*", "refund.processed"])
    assert created["id"].startswith("we_") and len(created["id"]) == 19
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["payment.*", "refund.processed"]
    assert created["enabled"] is True and created["is_default"] is False
    got = alice.client.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert "secret" not in got and got["url"] == URL
    listed = alice.client.get("/api/v1/webhook-endpoints").json()
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert WebhookAudit.objects.filter(action="endpoint_create", actor=f"api_key:{alice.key_id}").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"url": "ftp://example.com/x"}, "url", "unsupported_scheme"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "url", "credentials_in_url"),
        ({"url": "not a url"}, "url", "unsupported_scheme"),
        ({"url": URL, "event_types": ["payment.nope"]}, "event_types", "invalid_event_type"),
        ({"url": URL, "event_types": ["bogus.*"]}, "event_types", "invalid_event_type"),
        ({}, "url", "required"),
    ],
)
def test_create_rejects_bad_input_and_changes_nothing(alice, body, field, reason):
    response = alice.client.post("/api/v1/webhook-endpoints", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", field, reason)
    assert WebhookEndpoint.objects.count() == 0


def test_update_and_disable_enable_and_delete(alice):
    created = _create(alice)
    path = f"/api/v1/webhook-endpoints/{created['id']}"
    patched = alice.client.patch(path, {"event_types": ["refund.*"], "enabled": False}, format="json").json()
    assert patched["event_types"] == ["refund.*"]
    assert (patched["enabled"], patched["disabled_reason"]) == (False, "manual")
    enabled = alice.client.patch(path, {"enabled": True}, format="json").json()
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
    assert alice.client.delete(path).status_code == 204
    assert alice.client.get(path).status_code == 404
    assert alice.client.get("/api/v1/webhook-endpoints").json()["data"] == []


def test_rotate_secret_keeps_old_for_grace_and_bounds_it(alice):
    created = _create(alice)
    path = f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret"
    rotated = alice.client.post(path, {"grace_period_seconds": 3600}, format="json").json()
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]
    left = (endpoint.previous_secret_expires_at - timezone.now()).total_seconds()
    assert 3590 < left <= 3600
    default = alice.client.post(path, format="json").json()
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == rotated["secret"] and default["secret"] == endpoint.secret
    assert 86390 < (endpoint.previous_secret_expires_at - timezone.now()).total_seconds() <= 86400
    too_long = alice.client.post(path, {"grace_period_seconds": 8 * 86400}, format="json")
    assert too_long.status_code == 400 and too_long.json()["error"]["reason"] == "invalid_grace_period"
    endpoint.refresh_from_db()
    assert endpoint.secret == default["secret"]


def test_test_event_goes_to_that_endpoint_only(alice):
    first = _create(alice)
    _create(alice)
    response = alice.client.post(f"/api/v1/webhook-endpoints/{first['id']}/test")
    assert response.status_code == 202
    outbox_dispatch_all()
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.endpoint_id, delivery.event_type) == (first["id"], "webhook.test")
    assert delivery.event.id == response.json()["event_id"]


def _deliveries(tenant, count=2):
    _create(tenant)
    for _ in range(count):
        payment_make(tenant.merchant)
    outbox_dispatch_all()
    return list(WebhookDelivery.objects.filter(merchant=tenant.merchant).order_by("created_at"))


def test_logs_list_shape_filters_and_alias(alice, bob):
    _deliveries(alice, 3)
    payment_succeed(alice.merchant)
    outbox_dispatch_all()
    _deliveries(bob, 1)
    WebhookDelivery.objects.filter(event_type="payment.success").update(status="failed", attempts=5, response_code=500)
    body = alice.client.get("/api/v1/webhooks").json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 10, 0)
    entry = body["data"][0]
    assert set(entry) >= {
        "id",
        "event",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "response_code",
        "endpoint_id",
    }
    assert alice.client.get("/api/v1/webhooks/logs?limit=2&offset=1").json()["data"] == body["data"][1:3]
    failed = alice.client.get("/api/v1/webhooks?status=failed").json()
    assert [(d["event"], d["attempts"], d["response_code"]) for d in failed["data"]] == [("payment.success", 5, 500)]
    assert alice.client.get("/api/v1/webhooks?event=payment.created").json()["total"] == 4
    assert alice.client.get("/api/v1/webhooks?event=payment.*").json()["total"] == 5
    bad = alice.client.get("/api/v1/webhooks?status=weird")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"
    assert bob.client.get("/api/v1/webhooks").json()["total"] == 1


def test_detail_and_attempts(alice):
    [delivery] = _deliveries(alice, 1)
    detail = alice.client.get(f"/api/v1/webhooks/{delivery.id}").json()
    assert detail["id"] == delivery.id and detail["status"] == "pending" and detail["attempt_log"] == []
    assert detail["payload"]["id"] == delivery.event.id
    assert alice.client.get(f"/api/v1/webhooks/{delivery.id}/attempts").json()["data"] == []


def test_retry_resets_and_is_audited(alice):
    [delivery] = _deliveries(alice, 1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=5, next_retry_at=None)
    response = alice.client.post(f"/api/v1/webhooks/{delivery.id}/retry")
    assert response.status_code == 200
    assert response.json() == {"id": delivery.id, "status": "pending", "message": "Webhook retry scheduled"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.next_retry_at <= timezone.now()
    audit = WebhookAudit.objects.get(action="delivery_retry")
    assert (audit.delivery_id, audit.actor) == (delivery.id, f"api_key:{alice.key_id}")
    assert audit.detail == {"previous_status": "failed", "previous_attempts": 5}


def test_retry_refused_while_an_attempt_is_in_flight(alice):
    [delivery] = _deliveries(alice, 1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() + timedelta(seconds=30))
    response = alice.client.post(f"/api/v1/webhooks/{delivery.id}/retry")
    assert response.status_code == 409 and response.json()["error"]["reason"] == "delivery_in_flight"
    assert not WebhookAudit.objects.filter(action="delivery_retry").exists()


def test_recover_requeues_failed_since(alice):
    old, new = _deliveries(alice, 2)
    WebhookDelivery.objects.update(status="failed", attempts=5, next_retry_at=None)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = alice.client.post(
        f"/api/v1/webhook-endpoints/{new.endpoint_id}/recover", {"since": since}, format="json"
    )
    assert response.status_code == 200 and response.json()["recovered"] == 1
    assert dict(WebhookDelivery.objects.values_list("id", "status")) == {old.id: "failed", new.id: "pending"}
    missing = alice.client.post(f"/api/v1/webhook-endpoints/{new.endpoint_id}/recover", {}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "since"


def test_other_merchants_ids_are_404_and_change_nothing(alice, bob):
    [delivery] = _deliveries(alice, 1)
    endpoint_id = delivery.endpoint_id
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    calls = [
        ("get", f"/api/v1/webhook-endpoints/{endpoint_id}", None),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint_id}", {"enabled": False}),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint_id}", None),
        ("post", f"/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret", {}),
        ("post", f"/api/v1/webhook-endpoints/{endpoint_id}/test", None),
        ("post", f"/api/v1/webhook-endpoints/{endpoint_id}/recover", {"since": "2020-01-01T00:00:00Z"}),
        ("get", f"/api/v1/webhooks/{delivery.id}", None),
        ("get", f"/api/v1/webhooks/{delivery.id}/attempts", None),
        ("post", f"/api/v1/webhooks/{delivery.id}/retry", None),
    ]
    before = WebhookEndpoint.objects.get(pk=endpoint_id)
    for method, path, body in calls:
        response = getattr(bob.client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    after = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (after.secret, after.enabled, after.deleted_at) == (before.secret, True, None)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"
    assert bob.client.get("/api/v1/webhooks").json()["total"] == 0
    assert bob.client.get("/api/v1/webhook-endpoints").json()["data"] == []
    assert not WebhookAudit.objects.exclude(action="endpoint_create").exists()


def test_requires_authentication(anon):
    assert anon.get("/api/v1/webhooks").status_code == 401
    assert anon.post("/api/v1/webhook-endpoints", {"url": URL}, format="json").status_code == 401


def test_default_endpoint_cannot_be_deleted(alice):
    from webhooks.services.endpoints import endpoint_default_set_url

    endpoint = endpoint_default_set_url(merchant=alice.merchant, url=URL, actor="dashboard:test")
    response = alice.client.delete(f"/api/v1/webhook-endpoints/{endpoint.id}")
    assert response.status_code == 400 and response.json()["error"]["reason"] == "default_endpoint_undeletable"
