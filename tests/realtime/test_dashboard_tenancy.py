"""Another merchant's user gets 404 on every dashboard URL that names an object, and nothing
changes. The list of URLs is read from the URLconf, so a new dashboard URL with an id fails
this test until it has a case here."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from payments.models import PaymentBatch
from payments.outbox import outbox_dispatch_all
from realtime.models import DashboardAudit, MerchantUser
from realtime.services import merchant_user_link
from tests.realtime.helpers import make_payment, settle
from webhooks.destinations.models import EventDestination
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create, endpoint_test

pytestmark = pytest.mark.django_db


def dashboard_patterns() -> set[str]:
    """Every URL pattern under dashboard/ that takes a parameter."""
    found = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif route.startswith("dashboard/") and "<" in route:
                found.add(route)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_dashboard_object_url_is_404_for_another_merchants_user(alice, bob, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    payment = settle(make_payment(merchant=alice.merchant), "success")
    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/a", actor="test")
    endpoint_test(endpoint=endpoint, actor="test")
    outbox_dispatch_all()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    destination = EventDestination.objects.create(
        merchant=alice.merchant, type="redis_stream", target={"url": "redis://127.0.0.1:6379/0", "stream": "x"}
    )
    batch = PaymentBatch.objects.create(merchant=alice.merchant, reference="b1", total=1, accepted=1)
    member = MerchantUser.objects.get(user=merchant_user_link(merchant=alice.merchant, email="someone@alice.example"))
    alice_ids = {
        "payment_id": payment.pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "destination_id": destination.pk,
        "batch_id": batch.pk,
        "member_id": str(member.pk),
        "key_id": alice.key_id,
    }
    cases = {  # route -> (method, extra path parameters)
        "dashboard/payments/<str:payment_id>": ("get", {}),
        "dashboard/payments/<str:payment_id>/refund": ("post", {}),
        "dashboard/payments/<str:payment_id>/capture": ("post", {}),
        "dashboard/payments/<str:payment_id>/cancel": ("post", {}),
        "dashboard/api/payments/<str:payment_id>/detail": ("get", {}),
        "dashboard/webhooks/endpoints/<str:endpoint_id>": ("get", {}),
        "dashboard/webhooks/endpoints/<str:endpoint_id>/<str:action>": ("post", {"action": "disable"}),
        "dashboard/webhooks/deliveries/<str:delivery_id>": ("get", {}),
        "dashboard/webhooks/deliveries/<str:delivery_id>/retry": ("post", {}),
        "dashboard/api/webhooks/<str:delivery_id>/retry": ("post", {}),
        "dashboard/streams/<str:destination_id>/replay": ("post", {}),
        "dashboard/api/batches/<str:batch_id>": ("get", {}),
        "dashboard/team/<str:member_id>": ("post", {}),
        "dashboard/keys/<str:key_id>/revoke": ("post", {}),
        "dashboard/keys/<str:key_id>/roll": ("post", {}),
    }
    assert dashboard_patterns() == set(cases), "a dashboard URL with an id has no tenancy case"
    intruder = Client()  # an owner: every role check passes, only the merchant differs
    intruder.force_login(merchant_user_link(merchant=bob.merchant, email="owner@bob.example"))
    form = {"full": "on", "role": "viewer", "overlap_seconds": "0", "since": "2026-01-01T00:00", "url": "http://x.y/"}
    for route, (method, extra) in cases.items():
        path = "/" + route
        for name in ("payment_id", "endpoint_id", "delivery_id", "destination_id", "batch_id", "member_id", "key_id"):
            path = path.replace(f"<str:{name}>", alice_ids[name])
        for name, value in extra.items():
            path = path.replace(f"<str:{name}>", value)
        response = intruder.get(path) if method == "get" else intruder.post(path, form)
        assert response.status_code == 404, (route, response.status_code)
    payment.refresh_from_db()
    endpoint.refresh_from_db()
    member.refresh_from_db()
    assert (payment.captured, payment.refunds.count(), endpoint.enabled, member.role) == (False, 0, True, "owner")
    assert not DashboardAudit.objects.exists()
    assert alice.client.get("/api/v1/payments").status_code == 200  # the key still works
