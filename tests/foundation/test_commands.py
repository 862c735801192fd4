"""Management commands: create_merchant and seed_demo."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from payments.demo import TEST_API_KEY, TEST_API_SECRET, TEST_MERCHANT_ID
from payments.models import ApiKey, Merchant
from payments.services.api_keys import api_key_authenticate


@pytest.mark.django_db
def test_create_merchant_prints_credentials_once():
    out = StringIO()
    call_command("create_merchant", "--name", "Acme", "--email", "Ops@Acme.test", stdout=out)
    printed = json.loads(out.getvalue())
    merchant = Merchant.objects.get(id=printed["merchant_id"])
    assert merchant.email == "ops@acme.test"
    assert printed["api_key"].startswith("key_test_")
    assert api_key_authenticate(key_id=printed["api_key"], secret=printed["api_secret"]) is not None
    assert printed["api_secret"] not in ApiKey.objects.get(key_id=printed["api_key"]).secret_hash


@pytest.mark.django_db
def test_create_merchant_live_key():
    out = StringIO()
    call_command("create_merchant", "--name", "Live", "--email", "live@acme.test", "--live", stdout=out)
    assert json.loads(out.getvalue())["api_key"].startswith("key_live_")


@pytest.mark.django_db
def test_create_merchant_rejects_duplicates_and_bad_email():
    call_command("create_merchant", "--name", "A", "--email", "a@acme.test", stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_merchant", "--name", "A", "--email", "a@acme.test", stdout=StringIO())
    with pytest.raises(CommandError, match="invalid email"):
        call_command("create_merchant", "--name", "B", "--email", "not-an-email", stdout=StringIO())
    assert Merchant.objects.count() == 1


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_exact(client, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    first = json.loads(_seed())
    second = json.loads(_seed())
    assert first["admin_password"] == second["admin_password"]
    merchant = Merchant.objects.get()
    assert merchant.id == TEST_MERCHANT_ID
    assert merchant.email == "test@example.com"
    assert ApiKey.objects.filter(key_id=TEST_API_KEY).count() == 1
    assert api_key_authenticate(key_id=TEST_API_KEY, secret=TEST_API_SECRET) is not None
    login = client.post("/admin/login/", {"username": "admin", "password": first["admin_password"]})
    assert login.status_code == 302, login.content  # through django-axes, as a browser logs in
    assert get_user_model().objects.get(username="admin").is_staff


@pytest.mark.django_db
def test_test_merchant_endpoint_answers_seeded_merchant(settings, tmp_path):
    from rest_framework.test import APIClient

    settings.BASE_DIR = tmp_path
    _seed()
    client = APIClient()
    response = client.get("/api/v1/test/merchant")  # no credentials, as the seed gateway serves it
    assert response.status_code == 200
    assert response.json()["id"] == str(TEST_MERCHANT_ID)
    assert response.json()["email"] == "test@example.com"


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()
