"""A new secret is shown once, in the answer that created it: never in a Django message
(which waits in a cookie or the session table for the next page), and every response that
shows a secret carries ``Cache-Control: no-store``."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from payments.models import ApiKey, Merchant
from payments.services.api_keys import api_key_authenticate
from realtime.services import merchant_user_link
from tests.realtime.helpers import logged_in
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


def assert_shown_once(response, secret: str) -> None:
    """``secret`` is in the page, the page is no-store, and nothing carries it onwards."""
    assert response.status_code == 200, response.content[:500]
    assert secret in response.content.decode()
    assert no_store(response)
    assert "messages" not in response.cookies
    for cookie in response.cookies.values():
        assert secret not in cookie.value
    for session in Session.objects.all():  # messages would wait here with SessionStorage
        assert secret not in str(session.get_decoded())


def no_store(response) -> bool:
    return "no-store" in {directive.strip() for directive in response["Cache-Control"].split(",")}


def shown(content: str, label: str) -> str:
    return re.search(rf"<th>{label}</th><td><code class=\"secret\">([^<]+)</code>", content).group(1)


def test_admin_merchant_add_shows_its_first_key_secret_on_the_answer_itself(admin_client):
    response = admin_client.post(
        "/admin/payments/merchant/add/",
        {
            "name": "Shop",
            "email": "shop@example.com",
            "is_active": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )
    secret = shown(response.content.decode(), "API secret")
    key_id = shown(response.content.decode(), "API key")
    assert_shown_once(response, secret)
    merchant = Merchant.objects.get(email="shop@example.com")
    assert api_key_authenticate(key_id=key_id, secret=secret).merchant == merchant
    later = admin_client.get(f"/admin/payments/merchant/{merchant.pk}/change/")
    assert secret.encode() not in later.content


def test_admin_api_key_add_shows_its_secret_on_the_answer_itself(admin_client, alice):
    response = admin_client.post(
        "/admin/payments/apikey/add/", {"merchant": str(alice.merchant.pk), "mode": "live", "label": "prod"}
    )
    secret = shown(response.content.decode(), "API secret")
    assert_shown_once(response, secret)
    api_key = ApiKey.objects.get(key_id=shown(response.content.decode(), "API key"))
    assert api_key.mode == "live" and api_key_authenticate(key_id=api_key.key_id, secret=secret) == api_key
    assert secret.encode() not in admin_client.get("/admin/payments/apikey/").content


def test_admin_webhook_rotation_shows_the_new_secret_on_the_answer_itself(admin_client, alice):
    endpoint = endpoint_create(merchant=alice.merchant, url="http://127.0.0.1:9/x", actor="t")
    response = admin_client.post(
        "/admin/webhooks/webhookendpoint/", {"action": "rotate_secret", "_selected_action": [endpoint.id]}
    )
    new_secret = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    assert shown(response.content.decode(), endpoint.id) == new_secret
    assert_shown_once(response, new_secret)


def test_api_answers_with_a_secret_are_no_store(alice):
    created = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/x"}, format="json")
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert created["Cache-Control"] == "no-store"
    rotated = alice.client.post(f"/api/v1/webhook-endpoints/{created.json()['id']}/rotate-secret", {}, format="json")
    assert rotated.status_code == 200 and rotated.json()["secret"] != created.json()["secret"]
    assert rotated["Cache-Control"] == "no-store"
    assert alice.client.get("/api/v1/orders")["Cache-Control"] == "no-store"  # and every API answer


def test_dashboard_pages_and_answers_with_a_secret_are_no_store(alice):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    client = logged_in("owner@alice.example", "alice-pass-123")
    page = client.get("/dashboard/webhooks")
    secret = WebhookEndpoint.objects.get(merchant=alice.merchant, is_default=True).secret
    assert secret in page.content.decode() and page["Cache-Control"] == "no-store"
    regenerated = client.post(
        "/dashboard/api/webhooks/regenerate-secret",
        content_type="application/json",
        data="{}",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert regenerated.status_code == 200 and regenerated.json()["secret"] != secret
    assert regenerated["Cache-Control"] == "no-store"
    assert no_store(client.get("/dashboard/"))


def test_cacheable_responses_keep_their_own_policy(db):
    assert Client().get("/checkout.js")["Cache-Control"] == "public, max-age=300"
