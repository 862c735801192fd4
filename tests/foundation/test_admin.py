"""The admin as operations console: merchants and API keys, secrets shown once, revocation."""

import pytest
from django.contrib.auth import get_user_model

from payments.models import ApiKey


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    client.force_login(user)
    return client


def test_merchant_list_and_search(staff_client, alice, bob):
    response = staff_client.get("/admin/payments/merchant/", {"q": "alice"})
    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"bob@example.com" not in response.content


# Secrets shown once (merchant add, key add): tests/foundation/test_secrets_shown_once.py


def test_revoke_action(staff_client, alice):
    api_key = ApiKey.objects.get(key_id=alice.key_id)
    response = staff_client.post(
        "/admin/payments/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert alice.client.get("/api/v1/orders").status_code == 401
