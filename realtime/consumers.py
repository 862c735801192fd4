"""Websocket consumers: thin edges over the realtime selectors and services.

``ws/payments/{id}``: the checkout's socket. The unguessable payment id is the capability;
it receives public snapshot fields only. With ``?ticket=`` (a merchant ticket) it receives
the full snapshot, and only for the ticket's own merchant's payment (else 4403).

``ws/merchant?ticket=``: a dashboard's (or merchant server's) socket with every event of
that merchant. Missing, unknown, used or expired ticket → close 4401.

Both send the current state on connect and accept ``{"type": "resume", ...}`` to catch up
after missed pushes; pushes themselves arrive from :mod:`realtime.push`.

A socket opened with a ticket re-checks the ticket's authority every
``REALTIME_AUTHORITY_RECHECK_SECONDS`` while open and closes with 4401 (key revoked,
session logged out) or 4403 (merchant deactivated).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from common.errors import DomainError
from common.http.inputs import json_loads, query_check
from payments.snapshots import payment_public_from_snapshot
from realtime import selectors, services
from realtime.push import merchant_group, payment_group

logger = logging.getLogger("tender.realtime")

CLOSE_UNAUTHENTICATED = services.CLOSE_UNAUTHENTICATED
CLOSE_FORBIDDEN = services.CLOSE_FORBIDDEN
CLOSE_BAD_INPUT = 4400
MAX_FRAME_CHARACTERS = 4096  # a resume message is ~60; nothing a client sends needs more


def _query_param(scope: dict[str, Any], name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


class JsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer under the API's input layer: a query string with bad bytes closes
    the socket with 4400; a frame that is not text, too large or not clean JSON is answered
    with an error message naming the reason, and never reaches ``receive_json``."""

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            query_check(self.scope.get("query_string", b""))
        except DomainError:
            await self.accept()
            await self.close(code=CLOSE_BAD_INPUT)
            return
        await super().websocket_connect(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self._refuse("send JSON in text frames", reason="binary_frame")
            return
        if len(text_data) > MAX_FRAME_CHARACTERS:
            await self._refuse(f"frames are at most {MAX_FRAME_CHARACTERS} characters", reason="frame_too_large")
            return
        try:
            content = json_loads(text_data)
        except DomainError as exc:
            await self._refuse(exc.description, reason=exc.reason, field=exc.field)
            return
        await self.receive_json(content, **kwargs)

    async def _refuse(self, description: str, *, reason: str | None, field: str | None = None) -> None:
        await self.send_json({"type": "error", "description": description, "reason": reason, "field": field})

    _authority_watch: asyncio.Task | None = None

    def authority_watch(self, authority: services.SocketAuthority) -> None:
        """Re-check ``authority`` every REALTIME_AUTHORITY_RECHECK_SECONDS (the first check
        at a random point of the first interval, so sockets opened together spread their
        queries) and close the socket with the code the check returns."""
        self._authority_watch = asyncio.ensure_future(self._watch(authority))

    async def _watch(self, authority: services.SocketAuthority) -> None:
        interval = float(settings.REALTIME_AUTHORITY_RECHECK_SECONDS)
        await asyncio.sleep(random.uniform(0.5, 1.0) * interval)  # jitter, not a secret
        while True:
            try:
                code = await database_sync_to_async(services.socket_authority_check)(authority=authority)
            except Exception:
                # A failed check (database blip) must not end the watch: the socket would
                # then stay open for good after its key is revoked. Try again next interval.
                logger.exception("socket authority re-check failed", extra={"merchant_id": str(authority.merchant_id)})
                code = None
            if code is not None:
                await self.close(code=code)
                return
            await asyncio.sleep(interval)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self._authority_watch is not None:
            self._authority_watch.cancel()
        await super().websocket_disconnect(message)


def _ticket_covers(authority: services.SocketAuthority, merchant_id: object, mode: str) -> bool:
    """A ticket opens its own merchant's payments, of its own world when a key issued it."""
    return merchant_id == authority.merchant_id and authority.mode in (None, mode)


class PaymentConsumer(JsonConsumer):
    group: str | None = None
    merchant_mode = False
    version = 0

    async def connect(self) -> None:
        payment_id = self.scope["url_route"]["kwargs"]["payment_id"]
        await self.accept()
        ticket = _query_param(self.scope, "ticket")
        ticket_merchant = authority = None
        if ticket is not None:
            authority = await database_sync_to_async(services.ticket_redeem)(ticket=ticket)
            if authority is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            ticket_merchant = authority.merchant_id
        # Join before reading, so a change between the read and the join is not missed.
        self.group = payment_group(payment_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        found = await database_sync_to_async(selectors.payment_socket_snapshot)(payment_id=payment_id)
        if found is None or (authority is not None and not _ticket_covers(authority, found[0], found[1])):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.merchant_mode = ticket_merchant is not None
        await self._send_payment("snapshot", found[2])
        if authority is not None:
            self.authority_watch(authority)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "resume":
            await self.send_json({"type": "error", "description": 'expected {"type": "resume", "version": N}'})
            return
        known = content.get("version")
        found = await database_sync_to_async(selectors.payment_socket_snapshot)(
            payment_id=self.scope["url_route"]["kwargs"]["payment_id"]
        )
        if found is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if not isinstance(known, int) or found[2]["version"] > known:
            await self._send_payment("resume", found[2])
        else:
            await self.send_json({"type": "up_to_date", "version": found[2]["version"]})

    async def payment_update(self, message: dict[str, Any]) -> None:
        # Pushes may arrive late or out of order; never send a state older than one sent.
        if message["version"] > self.version:
            await self._send_payment(message["event"], message["full"])

    async def _send_payment(self, event: str, snapshot: dict[str, Any]) -> None:
        self.version = max(self.version, snapshot["version"])
        payment = snapshot if self.merchant_mode else payment_public_from_snapshot(snapshot)
        await self.send_json({"type": "payment", "event": event, "version": snapshot["version"], "payment": payment})


class MerchantConsumer(JsonConsumer):
    group: str | None = None

    async def connect(self) -> None:
        await self.accept()
        ticket = _query_param(self.scope, "ticket")
        authority = await database_sync_to_async(services.ticket_redeem)(ticket=ticket or "")
        if authority is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        merchant_id = self.merchant_id = authority.merchant_id
        self.mode = authority.mode  # an API key's socket sees its own world only
        self.group = merchant_group(merchant_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        cursor = await database_sync_to_async(selectors.merchant_latest_cursor)(merchant_id=merchant_id, mode=self.mode)
        await self.send_json({"type": "hello", "merchant_id": str(merchant_id), "cursor": cursor})
        self.authority_watch(authority)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        after = content.get("after") if isinstance(content, dict) else None
        if not isinstance(content, dict) or content.get("type") != "resume" or not isinstance(after, str | None):
            await self.send_json(
                {"type": "error", "description": 'expected {"type": "resume", "after": "evt_…" | null}'}
            )
            return
        try:
            events, cursor = await database_sync_to_async(selectors.merchant_events_after)(
                merchant_id=self.merchant_id, after=after, mode=self.mode
            )
        except DomainError as exc:
            await self.send_json({"type": "error", "description": exc.description, "reason": exc.reason})
            return
        for message in events:
            await self.send_json(message)
        await self.send_json({"type": "resumed", "cursor": cursor, "count": len(events)})

    async def merchant_event(self, message: dict[str, Any]) -> None:
        if self.mode is not None and message.get("mode", "test") != self.mode:
            return  # the other world's event
        await self.send_json(message["message"])
