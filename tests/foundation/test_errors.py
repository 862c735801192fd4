"""The error envelope for every failure the API can produce, and correlation ids."""

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_unknown_api_url_is_enveloped_404(alice):
    response = alice.client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert response.json()["error"]["reason"] == "unknown_endpoint"


@pytest.mark.django_db
def test_unknown_api_url_needs_no_auth_to_be_404(anon):
    response = anon.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"


@pytest.mark.django_db
def test_method_not_allowed_is_enveloped_405(alice):
    response = alice.client.delete("/api/v1/test/merchant")
    assert response.status_code == 405
    assert response.json()["error"]["reason"] == "method_not_allowed"


@pytest.mark.django_db
def test_correlation_id_is_echoed(alice):
    response = alice.client.get("/api/v1/test/merchant", HTTP_X_CORRELATION_ID="trace-123")
    assert response["X-Correlation-ID"] == "trace-123"


@pytest.mark.django_db
def test_malformed_correlation_id_is_replaced(alice):
    response = alice.client.get("/api/v1/test/merchant", HTTP_X_CORRELATION_ID="bad id with spaces")
    assert response["X-Correlation-ID"] != "bad id with spaces"
    assert len(response["X-Correlation-ID"]) == 32


@pytest.mark.django_db
def test_correlation_id_on_non_api_responses(client):
    assert client.get("/health")["X-Correlation-ID"]


@pytest.mark.django_db
def test_unhandled_exception_is_enveloped_500_without_trace(alice, monkeypatch):
    from payments.api import demo

    def boom(self, request):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(demo.TestMerchantApi, "get", boom)
    alice.client.raise_request_exception = False
    response = alice.client.get("/api/v1/test/merchant")
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "SERVER_ERROR"
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_rate_limit_is_429_with_retry_after(alice, redis_client, monkeypatch):
    from common.http import throttling

    monkeypatch.setattr(throttling.time, "time", lambda: 1_800_000_000.25)  # one fixed window
    with override_settings(API_RATE_LIMIT_PER_SECOND=3):
        statuses = [alice.client.get("/api/v1/orders").status_code for _ in range(3)]
        limited = alice.client.get("/api/v1/orders")
    assert 429 not in statuses
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMIT_ERROR"
    assert limited["Retry-After"] == "1"


@pytest.mark.django_db
def test_rate_limit_fails_open_when_redis_is_down(alice):
    with override_settings(
        API_RATE_LIMIT_PER_SECOND=1,
        REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there: the limiter's Redis is down
        REDIS_SOCKET_TIMEOUT=0.2,
    ):
        statuses = {alice.client.get("/api/v1/orders").status_code for _ in range(3)}
    assert 429 not in statuses
