"""``/api/v1/test/*`` as the seed gateway serves them: no credentials, demo/test mode only."""

import pytest

from payments.demo import TEST_API_KEY, TEST_MERCHANT_ID
from tests.payments.factories import OrderFactory, PaymentFactory


@pytest.mark.django_db
def test_test_merchant_answers_without_credentials(anon, demo):
    response = anon.get("/api/v1/test/merchant")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(TEST_MERCHANT_ID),
        "name": "Test Merchant",
        "email": "test@example.com",
        "api_key": TEST_API_KEY,
        "seeded": True,
    }


@pytest.mark.django_db
def test_jobs_status_answers_without_credentials(anon, alice, redis_client):
    PaymentFactory(order=OrderFactory(merchant=alice.merchant), status="failed")
    response = anon.get("/api/v1/test/jobs/status")
    assert response.status_code == 200
    body = response.json()
    assert body["failed"] == 1
    assert body["worker_status"] == "stopped"


@pytest.mark.django_db
def test_wrong_credentials_do_not_matter_either(anon, demo):
    response = anon.get("/api/v1/test/merchant", HTTP_X_API_KEY="key_test_nope", HTTP_X_API_SECRET="wrong")
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/test/merchant", "/api/v1/test/jobs/status"])
def test_outside_demo_mode_they_are_404(anon, alice, demo, settings, path):
    settings.DEMO_MODE = False
    for client in (anon, alice.client):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
        assert response.json()["error"]["reason"] == "unknown_endpoint"
