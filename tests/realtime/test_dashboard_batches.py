"""The dashboard's batch endpoints on the server: the role check (a viewer may watch, not
create), CSRF, the merchant's own batches only, the shared hourly limit, and the API's
own rejections."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from payments.models import PaymentBatch
from realtime.models import MerchantUser
from realtime.services import merchant_user_link

pytestmark = pytest.mark.django_db


def member(tenant, email: str, role: str = "owner") -> Client:
    user = merchant_user_link(merchant=tenant.merchant, email=email, password="dash-pass-123")
    MerchantUser.objects.filter(user=user).update(role=role)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def create(client: Client, body: dict):
    token = client.get("/dashboard/batches").cookies["csrftoken"].value
    return client.post(
        "/dashboard/api/batches", json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )


ITEMS = [{"reference": "d-1", "amount": 1000, "vpa": "success@upi"}, {"reference": "d-2", "amount": 5, "vpa": "a@b"}]


def test_owner_creates_viewer_watches_bob_sees_nothing(alice, bob, settings, redis_client):
    owner = member(alice, "owner@alice.example")
    created = create(owner, {"reference": "dash", "items": ITEMS})
    assert created.status_code == 202, created.content
    body = created.json()
    assert (body["accepted"], [r["reference"] for r in body["rejected"]]) == (1, ["d-2"])
    viewer = member(alice, "viewer@alice.example", role="viewer")
    assert create(viewer, {"reference": "other", "items": ITEMS}).status_code == 403
    progress = viewer.get(f"/dashboard/api/batches/{body['id']}")
    assert progress.status_code == 200 and progress.json()["pending_count"] == 1
    assert member(bob, "owner@bob.example").get(f"/dashboard/api/batches/{body['id']}").status_code == 404
    no_csrf = owner.post(
        "/dashboard/api/batches", json.dumps({"reference": "x", "items": ITEMS}), content_type="application/json"
    )
    assert no_csrf.status_code == 403
    assert create(owner, {"reference": "x", "items": []}).json()["error"]["field"] == "items"
    settings.BATCH_RATE_LIMIT_PER_HOUR = 1
    limited = create(owner, {"reference": "again", "items": ITEMS})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert list(PaymentBatch.objects.values_list("reference", flat=True)) == ["dash"]


def test_batches_page_counts_every_recent_batch_in_one_query(alice, settings, redis_client):
    """The recent-batches table costs the same queries for one batch as for three (no query per batch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.BATCH_RATE_LIMIT_PER_HOUR = 100
    owner = member(alice, "owner@alice.example")

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = owner.get("/dashboard/batches")
        assert response.status_code == 200
        return len(captured.captured_queries)

    assert create(owner, {"reference": "one", "items": ITEMS}).status_code == 202
    with_one = page_queries()
    for reference in ("two", "three"):
        assert create(owner, {"reference": reference, "items": ITEMS}).status_code == 202
    response = owner.get("/dashboard/batches")
    assert all(f"<td>{reference}</td>".encode() in response.content for reference in ("one", "two", "three"))
    assert page_queries() == with_one
