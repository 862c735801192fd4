"""The admin as operations console: merchants and API keys, secrets shown once, revocation."""

import re

import pytest
from django.contrib.auth import get_user_model

from payments.models import ApiKey, Merchant
from payments.services.api_keys import api_key_authenticate


@pytest.fixture
def staff_client(client, db):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    client.login(username="ops", password="pw-ops-123456")
    return client


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_merchant_list_and_search(staff_client, alice, bob):
    response = staff_client.get("/admin/payments/merchant/", {"q": "alice"})
    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"bob@example.com" not in response.content


def test_adding_a_merchant_shows_its_secret_once(staff_client):
    response = staff_client.post(
        "/admin/payments/merchant/add/",
        {
            "name": "Shop",
            "email": "shop@example.com",
            "is_active": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    text = _messages(response)
    match = re.search(r"API key (key_test_\w+) created\. Secret \(shown once, copy it now\): (\S+)", text)
    assert match, text
    merchant = Merchant.objects.get(email="shop@example.com")
    assert api_key_authenticate(key_id=match.group(1), secret=match.group(2)).merchant == merchant
    # The secret appears nowhere afterwards.
    page = staff_client.get(f"/admin/payments/merchant/{merchant.pk}/change/")
    assert match.group(2).encode() not in page.content


def test_adding_an_api_key_shows_its_secret_once(staff_client, alice):
    response = staff_client.post(
        "/admin/payments/apikey/add/",
        {"merchant": str(alice.merchant.pk), "mode": "live", "label": "prod"},
        follow=True,
    )
    match = re.search(
        r"API key (key_live_\w+) created\. Secret \(shown once, copy it now\): (\S+)", _messages(response)
    )
    assert match
    api_key = ApiKey.objects.get(key_id=match.group(1))
    assert api_key.label == "prod" and api_key.merchant == alice.merchant
    assert api_key_authenticate(key_id=match.group(1), secret=match.group(2)) is not None


def test_revoke_action(staff_client, alice):
    api_key = ApiKey.objects.get(key_id=alice.key_id)
    response = staff_client.post(
        "/admin/payments/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert alice.client.get("/api/v1/orders").status_code == 401
