"""Dashboard pages for every webhook endpoint and the delivery inspector (Django test client
against PostgreSQL): create/edit/rotate/disable/enable/test/recover through the webhooks
services, roles on the server, another merchant's ids 404, bad input changing nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from payments.outbox import outbox_dispatch_all
from realtime.models import DashboardAudit, MerchantUser
from realtime.services import merchant_user_link
from webhooks.models import WebhookAudit, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_create, endpoint_test

pytestmark = pytest.mark.django_db


def session(tenant, email: str, role: str) -> Client:
    user = merchant_user_link(merchant=tenant.merchant, email=email)
    MerchantUser.objects.filter(user=user).update(role=role)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/dashboard/webhooks/endpoints")
    return client


def post(client: Client, path: str, data: dict | None = None):
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": token})


@pytest.fixture
def private_targets(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def test_developer_manages_an_endpoint_end_to_end(alice, private_targets):
    dev = session(alice, "dev@alice.example", "developer")
    bad = post(dev, "/dashboard/webhooks/endpoints/new", {"url": "ftp://example.com/x"})
    assert bad.status_code == 400 and 'data-test-id="endpoints-error"' in bad.content.decode()
    assert not WebhookEndpoint.objects.exists()
    created = post(
        dev,
        "/dashboard/webhooks/endpoints/new",
        {"url": "http://127.0.0.1:9/hooks", "event_types": "payment.*, refund.processed", "description": "ERP"},
    )
    assert created.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert created["Location"] == f"/dashboard/webhooks/endpoints/{endpoint.pk}?done=created"
    assert (endpoint.event_types, endpoint.description) == (["payment.*", "refund.processed"], "ERP")
    page = dev.get(created["Location"]).content.decode()
    assert endpoint.secret in page and "Endpoint created" in page
    base = f"/dashboard/webhooks/endpoints/{endpoint.pk}"
    bad_filter = post(dev, f"{base}/save", {"url": endpoint.url, "event_types": "no such thing!"})
    assert bad_filter.status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["payment.*", "refund.processed"]
    assert post(dev, f"{base}/save", {"url": endpoint.url, "event_types": "*", "description": "all"}).status_code == 302
    old_secret = endpoint.secret
    assert post(dev, f"{base}/rotate", {"grace_period_seconds": "12"}).status_code == 400  # not a choice
    assert post(dev, f"{base}/rotate", {"grace_period_seconds": "3600"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == old_secret and endpoint.secret != old_secret
    assert "still signs until" in dev.get(base).content.decode()
    assert post(dev, f"{base}/disable").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    refused = post(dev, f"{base}/test")
    assert refused.status_code == 409 and "disabled" in refused.content.decode()
    assert post(dev, f"{base}/enable").status_code == 302
    assert post(dev, f"{base}/test").status_code == 302
    outbox_dispatch_all()  # the webhooks consumer fans the test event out
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event_type="webhook.test").count() == 1
    assert post(dev, f"{base}/recover", {"since": "yesterday"}).status_code == 400
    assert post(dev, f"{base}/recover", {"since": "2026-01-01T00:00:00"}).status_code == 302
    assert post(dev, f"{base}/explode").status_code == 404
    assert list(DashboardAudit.objects.order_by("pk").values_list("action", flat=True)) == [
        "endpoint.created",
        "endpoint.saved",
        "endpoint.rotated",
        "endpoint.disabled",
        "endpoint.enabled",
        "endpoint.tested",
        "endpoint.recovered",
    ]
    assert WebhookAudit.objects.filter(actor="dashboard:dev@alice.example").count() == 7


def test_roles_and_other_merchants_on_endpoint_pages(alice, bob, private_targets):
    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/a", actor="test")
    endpoint_test(endpoint=endpoint, actor="test")
    outbox_dispatch_all()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    viewer = session(alice, "viewer@alice.example", "viewer")
    support = session(alice, "support@alice.example", "support")
    pages = (
        "/dashboard/webhooks/endpoints",
        f"/dashboard/webhooks/endpoints/{endpoint.pk}",
        f"/dashboard/webhooks/deliveries/{delivery.pk}",
    )
    for path in pages:
        assert viewer.get(path).status_code == 200, path
        assert support.get(path).status_code == 403, path
    page = viewer.get(f"/dashboard/webhooks/endpoints/{endpoint.pk}").content.decode()
    assert endpoint.secret not in page and "hidden for the viewer role" in page
    assert 'data-test-id="rotate-button"' not in page
    for action in ("save", "rotate", "disable", "test", "recover"):
        assert post(viewer, f"/dashboard/webhooks/endpoints/{endpoint.pk}/{action}").status_code == 403, action
    assert post(viewer, f"/dashboard/webhooks/deliveries/{delivery.pk}/retry").status_code == 403
    intruder = session(bob, "owner@bob.example", "owner")
    for path in pages[1:]:
        assert intruder.get(path).status_code == 404, path
    for action in ("save", "rotate", "disable", "enable", "test", "recover"):
        response = post(intruder, f"/dashboard/webhooks/endpoints/{endpoint.pk}/{action}", {"url": "http://x.y/"})
        assert response.status_code == 404, action
    assert post(intruder, f"/dashboard/webhooks/deliveries/{delivery.pk}/retry").status_code == 404
    assert endpoint.pk not in intruder.get("/dashboard/webhooks/endpoints").content.decode()
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.url == "http://127.0.0.1:9/a" and not DashboardAudit.objects.exists()
