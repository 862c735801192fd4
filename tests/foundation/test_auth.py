"""API key authentication: headers and HTTP Basic, 401s in the envelope, hashes only."""

import base64

import pytest
from django.db import connection

from payments.models import ApiKey
from payments.services.api_keys import api_key_revoke

URL = "/api/v1/orders"  # any authenticated endpoint


def assert_401(response):
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "AUTHENTICATION_ERROR"
    assert body["error"]["correlation_id"] == response["X-Correlation-ID"]


@pytest.mark.django_db
def test_valid_headers_authenticate(alice):
    response = alice.client.get(URL)
    assert response.status_code == 200
    assert response["X-Correlation-ID"]


@pytest.mark.django_db
def test_http_basic_authenticates(alice, anon):
    token = base64.b64encode(f"{alice.key_id}:{alice.secret}".encode()).decode()
    response = anon.get(URL, HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_missing_headers_is_401(anon):
    assert_401(anon.get(URL))


@pytest.mark.django_db
def test_wrong_secret_is_401(alice, anon):
    assert_401(anon.get(URL, HTTP_X_API_KEY=alice.key_id, HTTP_X_API_SECRET="secret_test_wrong"))


@pytest.mark.django_db
def test_unknown_key_is_401(anon):
    assert_401(anon.get(URL, HTTP_X_API_KEY="key_test_nope", HTTP_X_API_SECRET="x"))


@pytest.mark.django_db
def test_only_key_header_is_401(alice, anon):
    assert_401(anon.get(URL, HTTP_X_API_KEY=alice.key_id))


@pytest.mark.django_db
def test_malformed_basic_is_401(anon):
    assert_401(anon.get(URL, HTTP_AUTHORIZATION="Basic !!!notbase64"))


@pytest.mark.django_db
def test_revoked_key_is_401(alice):
    api_key_revoke(api_key=ApiKey.objects.get(key_id=alice.key_id))
    assert_401(alice.client.get(URL))


@pytest.mark.django_db
def test_inactive_merchant_is_401(alice):
    alice.merchant.is_active = False
    alice.merchant.save()
    assert_401(alice.client.get(URL))


@pytest.mark.django_db
def test_database_holds_no_plain_secret(alice, bob):
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_id, secret_hash FROM api_keys")
        rows = cursor.fetchall()
    assert rows
    stored = " ".join(" ".join(row) for row in rows)
    assert alice.secret not in stored and bob.secret not in stored
    assert all(len(secret_hash) == 64 for _, secret_hash in rows)


@pytest.mark.django_db
def test_last_used_at_is_recorded(alice):
    assert ApiKey.objects.get(key_id=alice.key_id).last_used_at is None
    alice.client.get(URL)
    assert ApiKey.objects.get(key_id=alice.key_id).last_used_at is not None


@pytest.mark.django_db
def test_generated_keys_have_documented_shape(alice):
    assert alice.key_id.startswith("key_test_")
    assert alice.secret.startswith("secret_test_")
