"""Merchant sockets re-check their authority while open: a socket closes with 4401 after
its API key is revoked or its dashboard session logs out, and with 4403 after its merchant
is deactivated; a socket whose authority holds stays open. In-process sockets over the real
Redis channel layer and PostgreSQL, with the re-check interval at 1 s (production: 20 s,
at most 60)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from payments.models import ApiKey, Merchant
from payments.services.api_keys import api_key_revoke
from realtime.services import merchant_user_link
from tests.realtime.helpers import logged_in, make_payment

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@pytest.fixture(autouse=True)
def fast_recheck(settings):
    settings.REALTIME_AUTHORITY_RECHECK_SECONDS = 1


def api_ticket(tenant) -> str:
    response = tenant.client.post("/api/v1/realtime/tickets")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


async def open_socket(path: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    first = await comm.receive_json_from(timeout=5)
    assert first["type"] in ("hello", "payment"), first
    return comm


async def closed_within(comm: WebsocketCommunicator, seconds: float) -> int:
    message = await comm.receive_output(timeout=seconds)
    assert message["type"] == "websocket.close", message
    return message["code"]


def test_merchant_socket_closes_4401_after_its_key_is_revoked(alice, redis_client):
    ticket = api_ticket(alice)

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        assert await comm.receive_nothing(timeout=2.5)  # authority holds: still open after 2 checks
        await database_sync_to_async(api_key_revoke)(
            api_key=await database_sync_to_async(ApiKey.objects.get)(key_id=alice.key_id)
        )
        assert await closed_within(comm, 5) == 4401

    async_to_sync(scenario)()


def test_merchant_socket_closes_4403_after_its_merchant_is_deactivated(alice, redis_client):
    ticket = api_ticket(alice)

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        await database_sync_to_async(Merchant.objects.filter(pk=alice.merchant.pk).update)(is_active=False)
        assert await closed_within(comm, 5) == 4403

    async_to_sync(scenario)()


def test_payment_socket_in_merchant_mode_closes_after_its_key_is_revoked(alice, redis_client):
    payment = make_payment(merchant=alice.merchant)
    ticket = api_ticket(alice)

    async def scenario():
        comm = await open_socket(f"/ws/payments/{payment.id}?ticket={ticket}")
        key = await database_sync_to_async(ApiKey.objects.get)(key_id=alice.key_id)
        await database_sync_to_async(api_key_revoke)(api_key=key)
        assert await closed_within(comm, 5) == 4401

    async_to_sync(scenario)()


def test_public_payment_socket_needs_no_authority_and_stays_open(alice, redis_client):
    payment = make_payment(merchant=alice.merchant)

    async def scenario():
        comm = await open_socket(f"/ws/payments/{payment.id}")
        assert await comm.receive_nothing(timeout=2.5)
        await comm.disconnect()

    async_to_sync(scenario)()


def test_dashboard_socket_closes_4401_after_its_session_logs_out(alice, redis_client):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    browser = logged_in("owner@alice.example", "alice-pass-123")
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    ticket = browser.post("/dashboard/api/ticket", **csrf).json()["ticket"]
    other = logged_in("owner@alice.example", "alice-pass-123")  # a second session stays logged in
    other_ticket = other.post("/dashboard/api/ticket", HTTP_X_CSRFTOKEN=other.cookies["csrftoken"].value).json()[
        "ticket"
    ]

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        kept = await open_socket(f"/ws/merchant?ticket={other_ticket}")
        assert await comm.receive_nothing(timeout=2.5)
        response = await database_sync_to_async(browser.post)("/logout", **csrf)
        assert response.status_code == 302
        assert await closed_within(comm, 5) == 4401
        assert await kept.receive_nothing(timeout=2.5)  # only the logged-out session's socket
        await kept.disconnect()

    async_to_sync(scenario)()


def test_a_ticket_whose_key_was_revoked_before_use_is_refused(alice, redis_client):
    ticket = api_ticket(alice)
    api_key_revoke(api_key=ApiKey.objects.get(key_id=alice.key_id))

    async def scenario():
        comm = WebsocketCommunicator(application, f"/ws/merchant?ticket={ticket}", headers=ORIGIN)
        connected, _ = await comm.connect()
        assert connected
        assert await closed_within(comm, 5) == 4401

    async_to_sync(scenario)()


def test_dashboard_socket_closes_4401_after_the_users_password_changes(alice, redis_client):
    user = merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    browser = logged_in("owner@alice.example", "alice-pass-123")
    ticket = browser.post("/dashboard/api/ticket", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value).json()["ticket"]

    def change_password() -> None:
        user.set_password("a-new-long-passphrase")
        user.save(update_fields=["password"])

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        await database_sync_to_async(change_password)()
        assert await closed_within(comm, 5) == 4401

    async_to_sync(scenario)()


# --- an API key's socket sees its own world only -------------------------------------------


def live_payment(merchant):
    """A pending live payment (as a live key's request would have written it)."""
    from payments.models import Event, Order, Payment

    payment = make_payment(merchant=merchant)
    Order.objects.filter(pk=payment.order_id).update(mode="live")
    Payment.objects.filter(pk=payment.pk).update(mode="live")
    Event.objects.filter(object_id=payment.pk).update(mode="live")  # its payment.created
    payment.refresh_from_db()
    return payment


def test_a_test_keys_merchant_socket_gets_no_live_events_pushed_or_resumed(alice, redis_client):
    from tests.realtime.helpers import settle

    ticket = api_ticket(alice)  # alice's key is a test key
    live = live_payment(alice.merchant)
    test = make_payment(merchant=alice.merchant)

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        await database_sync_to_async(settle)(live, "success")
        await database_sync_to_async(settle)(test, "success")
        pushed = await comm.receive_json_from(timeout=5)
        assert (pushed["event"], pushed["object_id"]) == ("payment.success", test.id)  # the live one never came
        assert await comm.receive_nothing(timeout=0.5)
        await comm.send_json_to({"type": "resume", "after": None})
        resumed = []
        while True:
            message = await comm.receive_json_from(timeout=5)
            if message["type"] == "resumed":
                break
            resumed.append(message["object_id"])
        assert test.id in resumed and live.id not in resumed
        await comm.disconnect()

    async_to_sync(scenario)()


def test_a_test_keys_ticket_cannot_open_a_live_payments_socket(alice, redis_client):
    live = live_payment(alice.merchant)
    ticket = api_ticket(alice)

    async def scenario():
        comm = WebsocketCommunicator(application, f"/ws/payments/{live.id}?ticket={ticket}", headers=ORIGIN)
        connected, _ = await comm.connect()
        assert connected
        assert await closed_within(comm, 5) == 4403

    async_to_sync(scenario)()


def test_a_failed_recheck_does_not_end_the_watch(alice, redis_client, monkeypatch):
    """A check that raises (a database blip) is retried next interval: the socket still
    closes once its key is revoked, instead of staying open unchecked for good."""
    from realtime import services

    real_check = services.socket_authority_check
    calls = {"n": 0}

    def flaky_check(*, authority):
        calls["n"] += 1
        if calls["n"] == 2:  # the first is the ticket's redemption; the second, the first re-check
            raise ConnectionError("database went away")
        return real_check(authority=authority)

    monkeypatch.setattr(services, "socket_authority_check", flaky_check)
    ticket = api_ticket(alice)

    async def scenario():
        comm = await open_socket(f"/ws/merchant?ticket={ticket}")
        assert await comm.receive_nothing(timeout=1.5)  # the first check failed; the socket stays open
        await database_sync_to_async(api_key_revoke)(
            api_key=await database_sync_to_async(ApiKey.objects.get)(key_id=alice.key_id)
        )
        assert await closed_within(comm, 5) == 4401
        assert calls["n"] >= 3

    async_to_sync(scenario)()
