"""Dashboard API keys: list with last use, create (the secret only in the answer, never
stored or cached), revoke, roll with an overlap during which both keys work; roles on the
server, another merchant's key 404 (Django test client, PostgreSQL, the real API auth)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from payments.models import ApiKey
from payments.services.api_keys import api_key_roll
from realtime.models import DashboardAudit, MerchantUser
from realtime.services import merchant_user_link

pytestmark = pytest.mark.django_db


def session(tenant, email: str, role: str) -> Client:
    user = merchant_user_link(merchant=tenant.merchant, email=email)
    MerchantUser.objects.filter(user=user).update(role=role)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/dashboard/")
    return client


def post(client: Client, path: str, data: dict | None = None):
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def works(key_id: str, secret: str) -> bool:
    response = APIClient().get("/api/v1/payments", HTTP_X_API_KEY=key_id, HTTP_X_API_SECRET=secret)
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


def shown(response) -> tuple[str, str]:
    html = response.content.decode()
    key_id = html.split('data-test-id="new-key-id">')[1].split("<")[0]
    secret = html.split('data-test-id="new-key-secret">')[1].split("<")[0]
    return key_id, secret


def test_create_shows_the_secret_once_and_keeps_it_nowhere(alice, settings):
    settings.SIMULATOR_ALLOW_LIVE_KEYS = True  # a live key is refused on the simulator otherwise
    dev = session(alice, "dev@alice.example", "developer")
    assert post(dev, "/dashboard/keys/new", {"mode": "sandbox"}).status_code == 400
    created = post(dev, "/dashboard/keys/new", {"mode": "live", "label": "shop server"})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    key_id, secret = shown(created)
    assert secret.startswith("secret_live_") and works(key_id, secret)
    key = ApiKey.objects.get(key_id=key_id)
    assert (key.mode, key.label, key.merchant_id) == ("live", "shop server", alice.merchant.pk)
    assert secret not in dev.get("/dashboard/keys").content.decode()  # never again
    assert "messages" not in dev.cookies and secret not in str(dev.session.items())
    audit = DashboardAudit.objects.get()
    assert (audit.action, audit.object_id) == ("api_key.created", key_id) and secret not in str(audit.detail)
    listing = dev.get("/dashboard/keys").content.decode()
    assert alice.key_id in listing and listing.count('data-test-id="key-row"') == 2

    def last_used(html: str, key: str) -> str:
        row = html.split(f'data-key-id="{key}"')[1]
        return row.split('data-test-id="key-last-used">')[1].split("<")[0]

    assert last_used(listing, alice.key_id) == "never"
    assert last_used(listing, key_id) == timezone.now().strftime("%Y-%m-%d %H:%M")  # used by works() above


def test_roll_keeps_both_keys_working_for_the_overlap_then_revoke_ends_it(alice):
    owner = session(alice, "owner@alice.example", "owner")
    assert post(owner, f"/dashboard/keys/{alice.key_id}/roll", {"overlap_seconds": "5"}).status_code == 400
    rolled = post(owner, f"/dashboard/keys/{alice.key_id}/roll", {"overlap_seconds": "3600"})
    assert rolled.status_code == 201
    new_id, new_secret = shown(rolled)
    assert works(new_id, new_secret) and works(alice.key_id, alice.secret)  # both, during the overlap
    page = owner.get("/dashboard/keys").content.decode()
    assert "rolling: works until" in page
    again = post(owner, f"/dashboard/keys/{alice.key_id}/roll", {"overlap_seconds": "0"})
    assert again.status_code == 409 and "already being rolled" in again.content.decode()
    assert post(owner, f"/dashboard/keys/{alice.key_id}/revoke").status_code == 302
    assert not works(alice.key_id, alice.secret) and works(new_id, new_secret)
    old = ApiKey.objects.get(key_id=alice.key_id)
    assert old.is_revoked and old.revoked_at <= timezone.now()
    assert list(DashboardAudit.objects.order_by("pk").values_list("action", flat=True)) == [
        "api_key.rolled",
        "api_key.revoked",
    ]


def test_roll_without_overlap_stops_the_old_key_at_once_and_the_overlap_expires(alice):
    issued = api_key_roll(api_key=ApiKey.objects.get(key_id=alice.key_id), overlap=timedelta(0))
    assert not works(alice.key_id, alice.secret) and works(issued.api_key.key_id, issued.secret)
    second = api_key_roll(api_key=issued.api_key, overlap=timedelta(hours=1))
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))  # time passes
    assert not works(issued.api_key.key_id, issued.secret) and works(second.api_key.key_id, second.secret)
    with pytest.raises(Exception, match="revoked"):
        api_key_roll(api_key=issued.api_key, overlap=timedelta(0))
    with pytest.raises(Exception, match="between 0 and 7 days"):
        api_key_roll(api_key=second.api_key, overlap=timedelta(days=8))


def test_roles_and_other_merchants_keys(alice, bob):
    viewer = session(alice, "viewer@alice.example", "viewer")
    support = session(alice, "support@alice.example", "support")
    assert support.get("/dashboard/keys").status_code == 403
    page = viewer.get("/dashboard/keys").content.decode()
    assert alice.key_id in page and 'data-test-id="roll-button"' not in page
    for path in (
        "/dashboard/keys/new",
        f"/dashboard/keys/{alice.key_id}/revoke",
        f"/dashboard/keys/{alice.key_id}/roll",
    ):
        assert post(viewer, path, {"mode": "test", "overlap_seconds": "0"}).status_code == 403, path
    intruder = session(bob, "owner@bob.example", "owner")
    assert alice.key_id not in intruder.get("/dashboard/keys").content.decode()
    for action in ("revoke", "roll"):
        response = post(intruder, f"/dashboard/keys/{alice.key_id}/{action}", {"overlap_seconds": "0"})
        assert response.status_code == 404, action
    assert works(alice.key_id, alice.secret) and ApiKey.objects.filter(merchant=alice.merchant).count() == 1
