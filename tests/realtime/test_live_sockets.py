"""Websockets over a REAL daphne process and the `websockets` client: tickets (reuse,
expiry, another merchant's), close codes, and resume after pushes dropped on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone

from payments.models import TimelineEntry
from realtime.models import RealtimeTicket
from realtime.push import pusher
from realtime.services import ticket_create
from tests.realtime.helpers import make_payment, settle
from tests.support.processes import celery_worker, daphne_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """One daphne for the module (it only needs the test database to exist)."""
    with django_db_blocker.unblock(), daphne_server() as url:
        yield url.replace("http://", "ws://")


async def in_thread(fn, *args, **kwargs):
    """Run ORM code off the event loop, closing the thread's connection afterwards."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def connect(server: str, path: str, origin: str | None = None):
    return websockets.connect(server + path, origin=origin or server.replace("ws://", "http://"), open_timeout=10)


async def close_code(server: str, path: str) -> int:
    async with connect(server, path) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=10)
    return closed.value.rcvd.code


def test_ticket_is_single_use_and_expires(server, alice, redis_client):
    fresh = alice.client.post("/api/v1/realtime/tickets").json()["ticket"]
    stale = ticket_create(merchant=alice.merchant).ticket
    newest = RealtimeTicket.objects.order_by("-id").first()  # the stale one
    RealtimeTicket.objects.filter(pk=newest.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    async def scenario():
        async with connect(server, f"/ws/merchant?ticket={fresh}") as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert hello["type"] == "hello" and hello["merchant_id"] == str(alice.merchant.id)
        assert await close_code(server, f"/ws/merchant?ticket={fresh}") == 4401  # reused
        assert await close_code(server, f"/ws/merchant?ticket={stale}") == 4401  # expired
        assert await close_code(server, "/ws/merchant") == 4401  # none

    async_to_sync(scenario)()


def test_other_merchants_ticket_or_payment_is_refused(server, alice, bob, redis_client):
    bobs_payment = make_payment(merchant=bob.merchant)
    alice_ticket = alice.client.post("/api/v1/realtime/tickets").json()["ticket"]

    async def scenario():
        assert await close_code(server, f"/ws/payments/{bobs_payment.id}?ticket={alice_ticket}") == 4403
        assert await close_code(server, "/ws/payments/pay_AAAAAAAAAAAAAAAA") == 4403

    async_to_sync(scenario)()


def test_merchant_socket_never_sees_another_merchants_events(server, alice, bob, redis_client):
    alice_ticket = alice.client.post("/api/v1/realtime/tickets").json()["ticket"]
    bob_ticket = bob.client.post("/api/v1/realtime/tickets").json()["ticket"]

    async def scenario():
        async with (
            connect(server, f"/ws/merchant?ticket={alice_ticket}") as a,
            connect(server, f"/ws/merchant?ticket={bob_ticket}") as b,
        ):
            await a.recv()
            await b.recv()
            bobs = await in_thread(make_payment, merchant=bob.merchant)
            event = json.loads(await asyncio.wait_for(b.recv(), timeout=10))
            assert event["object_id"] == bobs.id
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(a.recv(), timeout=0.5)

    async_to_sync(scenario)()


def test_foreign_origin_is_rejected_at_handshake(server, alice, redis_client):
    ticket = alice.client.post("/api/v1/realtime/tickets").json()["ticket"]

    async def scenario():
        with pytest.raises(websockets.InvalidStatus) as rejected:
            async with connect(server, f"/ws/merchant?ticket={ticket}", origin="https://evil.example"):
                pass
        assert rejected.value.response.status_code == 403

    async_to_sync(scenario)()


def test_clients_without_origin_are_accepted_with_their_token(server, alice, redis_client):
    """Merchant servers, apps and scripts send no Origin: the ticket or the payment id is the
    authority, so they get the same socket a browser gets, pushes included."""
    payment = make_payment(merchant=alice.merchant)
    ticket = alice.client.post("/api/v1/realtime/tickets").json()["ticket"]

    async def scenario():
        async with (
            websockets.connect(f"{server}/ws/payments/{payment.id}", open_timeout=10) as checkout,
            websockets.connect(f"{server}/ws/merchant?ticket={ticket}", open_timeout=10) as merchant,
        ):
            assert "Origin" not in checkout.request.headers and "Origin" not in merchant.request.headers
            snapshot = json.loads(await asyncio.wait_for(checkout.recv(), timeout=10))
            assert (snapshot["event"], snapshot["payment"]["status"]) == ("snapshot", "pending")
            hello = json.loads(await asyncio.wait_for(merchant.recv(), timeout=10))
            assert hello["type"] == "hello" and hello["merchant_id"] == str(alice.merchant.id)
            await in_thread(settle, payment, "success")
            pushed = json.loads(await asyncio.wait_for(checkout.recv(), timeout=10))
            assert (pushed["event"], pushed["payment"]["status"]) == ("payment.success", "success")
            event = json.loads(await asyncio.wait_for(merchant.recv(), timeout=10))
            assert (event["event"], event["object_id"]) == ("payment.success", payment.id)
        # No Origin is no pass: the token is still checked.
        async with websockets.connect(f"{server}/ws/merchant?ticket={ticket}", open_timeout=10) as reused:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(reused.recv(), timeout=10)
            assert closed.value.rcvd.code == 4401

    async_to_sync(scenario)()


def test_a_disallowed_browser_origin_is_still_refused(server, alice, redis_client):
    payment = make_payment(merchant=alice.merchant)

    async def scenario():
        for origin in ("https://evil.example", "null", "http://127.0.0.1.evil.example"):
            for path in (f"/ws/payments/{payment.id}", "/ws/merchant?ticket=x"):
                with pytest.raises(websockets.InvalidStatus) as rejected:
                    async with connect(server, path, origin=origin):
                        pass
                assert rejected.value.response.status_code == 403, (origin, path)

    async_to_sync(scenario)()


def test_reconnect_with_last_version_after_dropped_pushes(server, alice, redis_client, monkeypatch):
    payment = make_payment(merchant=alice.merchant)

    async def scenario():
        async with connect(server, f"/ws/payments/{payment.id}") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert snapshot["version"] == 1 and snapshot["payment"]["status"] == "pending"
        # While the client is away (and every push is dropped), the payment succeeds.
        monkeypatch.setattr(pusher, "submit", lambda messages: None)
        await in_thread(settle, payment, "success")
        async with connect(server, f"/ws/payments/{payment.id}") as ws:
            await ws.recv()  # a fresh snapshot always comes first
            await ws.send(json.dumps({"type": "resume", "version": snapshot["version"]}))
            caught_up = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert caught_up["type"] == "payment" and caught_up["event"] == "resume"
            assert caught_up["version"] == 2 and caught_up["payment"]["status"] == "success"

    async_to_sync(scenario)()


@pytest.mark.worker
def test_pushes_from_the_celery_worker_reach_the_socket(server, alice, redis_client):
    """The worker's own change (the provider took the payment: ``payment.pending``, v2) is
    pushed from the worker process (prefork child, its own push thread), not by polling.
    The worker starts only once the socket holds the v1 snapshot, so v2 must be a push."""
    base = server.replace("ws://", "http://")
    env = {"TEST_PROCESSING_DELAY": "300", "SIMULATOR_CALLBACK_BASE_URL": base}
    created = alice.client.post(
        "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "success@upi"}, format="json"
    )
    assert created.status_code == 201, created.content
    payment_id = created.json()["id"]

    async def scenario(stack: contextlib.ExitStack):
        async with connect(server, f"/ws/payments/{payment_id}") as ws:
            seen = [json.loads(await asyncio.wait_for(ws.recv(), timeout=10))]
            assert (seen[0]["event"], seen[0]["version"]) == ("snapshot", 1)
            await asyncio.to_thread(stack.enter_context, celery_worker(env=env))
            while seen[-1]["payment"]["status"] == "pending":
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=15)))
        return seen

    with contextlib.ExitStack() as stack:
        seen = async_to_sync(scenario)(stack)
    events = [(m["event"], m["version"]) for m in seen]
    assert events[1] == ("payment.pending", 2), events  # from the worker process
    assert events[-1] == ("payment.success", 3)  # from daphne (the provider's webhook)
    assert TimelineEntry.objects.get(object_id=payment_id, version=2).to_status == "pending"
