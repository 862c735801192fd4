"""Websocket consumers in-process (channels' WebsocketCommunicator) over the real Redis
channel layer and PostgreSQL: snapshots, live pushes after commit, resume, tenancy."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from realtime.push import pusher
from realtime.selectors import merchant_latest_cursor
from realtime.services import ticket_create
from tests.realtime.helpers import make_payment, settle

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]
PUBLIC_KEYS = {
    "id",
    "order_id",
    "amount",
    "currency",
    "method",
    "status",
    "error_code",
    "error_description",
    "version",
    "created_at",
    "updated_at",
}


def socket(path: str, headers=ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers)


async def closed_with(comm: WebsocketCommunicator) -> int:
    connected, _ = await comm.connect()
    assert connected
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


def test_payment_socket_sends_public_snapshot_then_live_push(alice, redis_client):
    payment = make_payment(merchant=alice.merchant)

    async def scenario():
        comm = socket(f"/ws/payments/{payment.id}")
        connected, _ = await comm.connect()
        assert connected
        first = await comm.receive_json_from(timeout=5)
        assert first["type"] == "payment" and first["event"] == "snapshot"
        assert first["version"] == 1 and first["payment"]["status"] == "pending"
        assert set(first["payment"]) == PUBLIC_KEYS  # no merchant internals
        await database_sync_to_async(settle)(payment, "success")
        pushed = await comm.receive_json_from(timeout=5)
        assert pushed["event"] == "payment.success"
        assert pushed["version"] == 2 and pushed["payment"]["status"] == "success"
        assert set(pushed["payment"]) == PUBLIC_KEYS
        await comm.disconnect()

    async_to_sync(scenario)()


def test_resume_after_dropped_pushes_ends_on_right_state(alice, redis_client):
    payment = make_payment(merchant=alice.merchant)

    async def scenario():
        comm = socket(f"/ws/payments/{payment.id}")
        await comm.connect()
        snapshot = await comm.receive_json_from(timeout=5)
        assert snapshot["version"] == 1
        # The push is dropped on purpose: the change commits while pushes are switched off.
        original = pusher.submit
        pusher.submit = lambda messages: None
        try:
            await database_sync_to_async(settle)(payment, "failed")
        finally:
            pusher.submit = original
        assert await comm.receive_nothing(timeout=0.3)
        await comm.send_json_to({"type": "resume", "version": snapshot["version"]})
        caught_up = await comm.receive_json_from(timeout=5)
        assert caught_up["event"] == "resume"
        assert caught_up["version"] == 2 and caught_up["payment"]["status"] == "failed"
        await comm.send_json_to({"type": "resume", "version": 2})
        assert await comm.receive_json_from(timeout=5) == {"type": "up_to_date", "version": 2}
        await comm.send_to(text_data="not json")
        assert (await comm.receive_json_from(timeout=5))["type"] == "error"  # and the socket stays up
        await comm.send_json_to({"type": "resume", "version": 0})
        assert (await comm.receive_json_from(timeout=5))["version"] == 2
        await comm.disconnect()

    async_to_sync(scenario)()


def test_unknown_payment_is_forbidden(db):
    async def scenario():
        assert await closed_with(socket("/ws/payments/pay_0000000000000000")) == 4403

    async_to_sync(scenario)()


def test_payment_socket_with_other_merchants_ticket_is_forbidden(alice, bob, redis_client):
    payment = make_payment(merchant=bob.merchant)
    ticket = ticket_create(merchant=alice.merchant).ticket
    own_ticket = ticket_create(merchant=bob.merchant).ticket

    async def scenario():
        assert await closed_with(socket(f"/ws/payments/{payment.id}?ticket={ticket}")) == 4403
        comm = socket(f"/ws/payments/{payment.id}?ticket={own_ticket}")
        await comm.connect()
        first = await comm.receive_json_from(timeout=5)
        assert first["payment"]["merchant_id"] == str(bob.merchant.id)  # merchant mode: full snapshot
        await comm.disconnect()

    async_to_sync(scenario)()


def test_merchant_socket_requires_a_valid_unused_ticket(alice, redis_client):
    ticket = ticket_create(merchant=alice.merchant).ticket

    async def scenario():
        assert await closed_with(socket("/ws/merchant")) == 4401
        assert await closed_with(socket("/ws/merchant?ticket=wst_forged")) == 4401
        comm = socket(f"/ws/merchant?ticket={ticket}")
        await comm.connect()
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello" and hello["merchant_id"] == str(alice.merchant.id)
        await comm.disconnect()
        assert await closed_with(socket(f"/ws/merchant?ticket={ticket}")) == 4401  # reused

    async_to_sync(scenario)()


def test_merchant_socket_gets_only_own_events_and_resumes_from_cursor(alice, bob, redis_client):
    alice_ticket = ticket_create(merchant=alice.merchant).ticket
    bob_ticket = ticket_create(merchant=bob.merchant).ticket

    async def scenario():
        a = socket(f"/ws/merchant?ticket={alice_ticket}")
        b = socket(f"/ws/merchant?ticket={bob_ticket}")
        await a.connect()
        await b.connect()
        hello = await a.receive_json_from(timeout=5)
        await b.receive_json_from(timeout=5)
        payment = await database_sync_to_async(make_payment)(merchant=alice.merchant)
        event = await a.receive_json_from(timeout=5)
        assert event["type"] == "event" and event["event"] == "payment.created"
        assert event["object_id"] == payment.id and event["data"]["payment"]["amount"] == 50000
        await database_sync_to_async(settle)(payment, "success")
        assert (await a.receive_json_from(timeout=5))["event"] == "payment.success"
        assert await b.receive_nothing(timeout=0.5)  # bob never sees alice's events
        assert hello["cursor"] is None  # alice had no events yet
        # The log only exposes events once every older transaction in the cluster has ended
        # (a gap-free prefix), so a client resumes until it has caught up.
        replayed, cursor = [], hello["cursor"]
        deadline = asyncio.get_running_loop().time() + 10
        while len(replayed) < 2 and asyncio.get_running_loop().time() < deadline:
            await a.send_json_to({"type": "resume", "after": cursor})
            while (message := await a.receive_json_from(timeout=5))["type"] == "event":
                replayed.append(message)
            assert message["type"] == "resumed"
            cursor = message["cursor"]
        assert [m["event"] for m in replayed] == ["payment.created", "payment.success"]
        assert cursor == replayed[1]["id"]
        # A new socket's hello cursor is the newest visible event, of its own world only.
        latest = database_sync_to_async(merchant_latest_cursor)
        assert await latest(merchant_id=alice.merchant.id) == cursor
        assert await latest(merchant_id=alice.merchant.id, mode=payment.mode) == cursor
        other_mode = "live" if payment.mode == "test" else "test"
        assert await latest(merchant_id=alice.merchant.id, mode=other_mode) is None
        await a.send_json_to({"type": "resume", "after": replayed[0]["id"]})
        assert (await a.receive_json_from(timeout=5))["event"] == "payment.success"
        assert (await a.receive_json_from(timeout=5))["count"] == 1
        await b.send_json_to({"type": "resume", "after": None})
        assert await b.receive_json_from(timeout=5) == {"type": "resumed", "cursor": None, "count": 0}
        # Another merchant's event id is not a cursor bob may use.
        await b.send_json_to({"type": "resume", "after": replayed[0]["id"]})
        refused = await b.receive_json_from(timeout=5)
        assert refused["type"] == "error" and refused["reason"] == "invalid_cursor"
        await a.disconnect()
        await b.disconnect()

    async_to_sync(scenario)()


def test_foreign_origin_is_refused(alice, redis_client):
    ticket = ticket_create(merchant=alice.merchant).ticket

    async def scenario():
        comm = socket(f"/ws/merchant?ticket={ticket}", headers=[(b"origin", b"https://evil.example")])
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(scenario)()


def test_push_thread_restarts_after_it_died(alice, redis_client):
    """If the push thread ever dies, the next event starts a new one (pushes resume)."""
    pusher.submit([])  # no-op
    payment = make_payment(merchant=alice.merchant)
    assert pusher.flush(5)
    loop = pusher._loop
    loop.call_soon_threadsafe(loop.stop)  # kill the sender loop: the thread exits
    pusher._thread.join(5)
    assert not pusher._thread.is_alive()

    async def scenario():
        comm = socket(f"/ws/payments/{payment.id}")
        await comm.connect()
        assert (await comm.receive_json_from(timeout=5))["version"] == 1
        await database_sync_to_async(settle)(payment, "success")
        pushed = await comm.receive_json_from(timeout=5)
        assert pushed["event"] == "payment.success" and pushed["version"] == 2
        await comm.disconnect()

    async_to_sync(scenario)()
    assert pusher._thread.is_alive() and pusher._loop is not loop
