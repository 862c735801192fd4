"""The dashboard's event-streams page: the merchant's destinations with status, lag and
last error (never a credential), a replay form that moves the cursor, errors that change
nothing, and no access to another merchant's destination."""

from __future__ import annotations

import pytest
from django.test import Client

from payments.outbox import event_record
from realtime.services import merchant_user_link
from tests.realtime.helpers import logged_in
from webhooks.destinations.models import EventDestination
from webhooks.destinations.services import destination_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(alice, bob):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    mine = destination_create(
        merchant=alice.merchant,
        type="redis_stream",
        target={"url": "redis://:hunter2@127.0.0.1:6379/0"},
        description="ledger",
        actor="test",
    )
    theirs = destination_create(merchant=bob.merchant, type="nats", target={"url": "nats://127.0.0.1"}, actor="test")
    EventDestination.objects.filter(pk=mine.pk).update(last_error="connection_error: refused")
    return logged_in("owner@alice.example", "alice-pass-123"), mine, theirs


def cursor(destination) -> tuple[int, int]:
    return EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=destination.pk)


def test_lists_status_lag_and_last_error_without_credentials(page):
    client, mine, theirs = page
    response = client.get("/dashboard/streams")
    assert response.status_code == 200
    html = response.content.decode()
    assert mine.pk in html and "ledger" in html and "connection_error: refused" in html
    assert "redis://:****@127.0.0.1:6379/0" in html
    assert "hunter2" not in html
    assert theirs.pk not in html
    assert 'data-test-id="stream-lag">0<' in html


def test_replay_form_moves_the_cursor_and_bad_input_changes_nothing(page, alice):
    client, mine, theirs = page
    token = client.cookies["csrftoken"].value
    event = event_record(
        merchant_id=alice.merchant.id, type="payment.created", object_type="payment", object_id="p", version=1, data={}
    )
    before = cursor(mine)
    bad = client.post(f"/dashboard/streams/{mine.pk}/replay", {"since": "not a time", "csrfmiddlewaretoken": token})
    assert bad.status_code == 400 and "since must be a date and time" in bad.content.decode()
    neither = client.post(f"/dashboard/streams/{mine.pk}/replay", {"csrfmiddlewaretoken": token})
    assert neither.status_code == 400
    other = client.post(
        f"/dashboard/streams/{theirs.pk}/replay", {"since": "2020-01-01T00:00", "csrfmiddlewaretoken": token}
    )
    assert other.status_code == 404
    assert cursor(mine) == before
    ok = client.post(
        f"/dashboard/streams/{mine.pk}/replay", {"since": "2020-01-01T00:00", "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 302 and ok["Location"] == f"/dashboard/streams?replayed={mine.pk}"
    assert cursor(mine) < (event.txid, event.seq)
    assert "Replay started" in client.get(ok["Location"]).content.decode()


def test_needs_a_dashboard_login():
    response = Client().get("/dashboard/streams")
    assert response.status_code == 302 and response["Location"].startswith("/login")
