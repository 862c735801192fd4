"""Admin: endpoint and delivery pages render; actions (rotate, disable, enable, test,
recover, retry) call the services and are audited with the staff user."""

from __future__ import annotations

import pytest

from payments.outbox import outbox_dispatch_all
from tests.support.admin_urls import admin_change_url
from tests.webhooks.conftest import payment_make
from webhooks.models import WebhookAudit, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(alice):
    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/x", actor="t")
    payment_make(alice.merchant)
    outbox_dispatch_all()
    return endpoint, WebhookDelivery.objects.get()


def _action(admin_client, model: str, action: str, ids: list[str]):
    return admin_client.post(f"/admin/webhooks/{model}/", {"action": action, "_selected_action": ids}, follow=True)


def test_pages_render(admin_client, setup):
    endpoint, delivery = setup
    assert admin_client.get("/admin/webhooks/webhookendpoint/").status_code == 200
    assert admin_client.get(admin_change_url(WebhookEndpoint, endpoint.id)).status_code == 200
    assert admin_client.get("/admin/webhooks/webhookdelivery/").status_code == 200
    page = admin_client.get(admin_change_url(WebhookDelivery, delivery.id))
    assert page.status_code == 200 and b"attempt" in page.content.lower()
    change = admin_client.get(admin_change_url(WebhookEndpoint, endpoint.id))
    assert endpoint.secret.encode() not in change.content


def test_endpoint_actions(admin_client, setup):
    endpoint, delivery = setup
    old_secret = endpoint.secret
    response = _action(admin_client, "webhookendpoint", "rotate_secret", [endpoint.id])
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.previous_secret == old_secret
    assert endpoint.secret in response.content.decode()
    _action(admin_client, "webhookendpoint", "disable", [endpoint.id])
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "manual")
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    _action(admin_client, "webhookendpoint", "enable", [endpoint.id])
    _action(admin_client, "webhookendpoint", "recover_day", [endpoint.id])
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    _action(admin_client, "webhookendpoint", "send_test", [endpoint.id])
    outbox_dispatch_all()
    assert WebhookDelivery.objects.filter(event_type="webhook.test", endpoint=endpoint).count() == 1
    actions = set(WebhookAudit.objects.filter(actor="staff:admin").values_list("action", flat=True))
    assert actions == {
        "endpoint_rotate_secret",
        "endpoint_disable",
        "endpoint_enable",
        "endpoint_recover",
        "endpoint_test",
    }


def test_delivery_retry_action(admin_client, setup):
    _, delivery = setup
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=5)
    _action(admin_client, "webhookdelivery", "retry", [delivery.id])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert WebhookAudit.objects.get(action="delivery_retry").actor == "staff:admin"
    assert WebhookEndpoint.objects.count() == 1
