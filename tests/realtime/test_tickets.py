"""POST /api/v1/realtime/tickets and ticket redemption (single use, expiry, concurrency)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from realtime.models import RealtimeTicket
from realtime.services import ticket_create, ticket_redeem


def test_ticket_create_returns_single_use_ticket(alice):
    response = alice.client.post("/api/v1/realtime/tickets")
    assert response.status_code == 201
    body = response.json()
    assert body["ticket"].startswith("wst_")
    assert body["url"] == f"/ws/merchant?ticket={body['ticket']}"
    row = RealtimeTicket.objects.get()
    assert row.merchant_id == alice.merchant.id
    assert row.token_hash != body["ticket"]  # only the hash is stored
    assert timedelta(seconds=55) < row.expires_at - timezone.now() <= timedelta(seconds=60)
    assert ticket_redeem(ticket=body["ticket"]).merchant_id == alice.merchant.id
    assert ticket_redeem(ticket=body["ticket"]) is None


def test_ticket_create_requires_api_key(anon, db):
    response = anon.post("/api/v1/realtime/tickets")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"
    assert not RealtimeTicket.objects.exists()


def test_expired_ticket_is_refused(alice):
    issued = ticket_create(merchant=alice.merchant)
    RealtimeTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ticket_redeem(ticket=issued.ticket) is None


def test_unknown_and_oversized_tickets_are_refused(db):
    assert ticket_redeem(ticket="wst_nope") is None
    assert ticket_redeem(ticket="x" * 500) is None
    assert ticket_redeem(ticket="") is None


def test_ticket_ttl_is_capped_at_sixty_seconds(alice):
    issued = ticket_create(merchant=alice.merchant, ttl=timedelta(hours=1))
    assert issued.expires_at - timezone.now() <= timedelta(seconds=60)


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_have_exactly_one_winner(alice):
    issued = ticket_create(merchant=alice.merchant)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def redeem() -> None:
        barrier.wait()
        try:
            authority = ticket_redeem(ticket=issued.ticket)
            results.append(authority and authority.merchant_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(alice.merchant.id) == 1
    assert results.count(None) == 7
