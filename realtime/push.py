"""Live pushes from the outbox to websocket groups.

:func:`outbox_live_handler` is registered as a *durable* outbox consumer: the outbox
dispatcher (a Celery worker on the ``outbox`` queue, nudged by every commit) hands it the
committed events, so API processes spend no CPU on pushes (measured: pushing from the API
process cost ~30 % of payment-create throughput on 2 cores). Calling
``async_to_sync(group_send)`` per event would cost ~1-6.5 ms of CPU each (PRODUCT.md §8), so
the handler only builds the messages and hands them to a per-process background thread
that owns one asyncio loop and one channel layer and sends them.

Best effort by design: a full queue, a Redis hiccup or a crash drops pushes (a re-dispatch
after a crash may repeat one; clients ignore versions they have). Clients re-fetch when
they see a ``version`` gap or reconnect with ``resume``; PostgreSQL stays the truth. The
thread is started lazily per process, so it survives Celery's prefork.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from channels.layers import channel_layers

from common.threads import ProcessThread
from payments.changes import payment_group
from payments.models import Event
from payments.snapshots import payment_public_from_snapshot

logger = logging.getLogger("tender.realtime")

# Messages waiting for the sender thread; beyond this pushes are dropped (clients catch up).
MAX_PENDING = 20_000
Message = tuple[str, dict[str, Any]]


def merchant_group(merchant_id: object) -> str:
    return f"merchant.{merchant_id}"


def merchant_event_message(event: Event) -> dict[str, Any]:
    """The wire shape of one event on ``ws/merchant`` (also used by resume)."""
    return {
        "type": "event",
        "id": event.id,
        "event": event.type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "version": event.version,
        "data": event.data,
    }


def event_messages(event: Event) -> list[Message]:
    """Group messages for one committed event: its merchant, and the payment if any."""
    messages: list[Message] = [
        (
            merchant_group(event.merchant_id),
            # "mode" stays in the envelope (not the wire message): API-key sockets filter on it
            {"type": "merchant.event", "message": merchant_event_message(event), "mode": event.mode},
        )
    ]
    snapshot = (event.data or {}).get("payment") if event.object_type == "payment" else None
    if snapshot is not None:
        messages.append(
            (
                payment_group(event.object_id),
                {
                    "type": "payment.update",
                    "event": event.type,
                    "version": event.version,
                    "payment": payment_public_from_snapshot(snapshot),
                    "full": snapshot,
                },
            )
        )
    return messages


class Pusher:
    """One background thread per process (a :class:`ProcessThread`) running an asyncio loop
    that sends group messages."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self._lock = threading.Lock()
        self._thread = ProcessThread(name="realtime-push", target=self._run, prepare=self._fresh_loop)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[list[Message]] | None = None
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()
        self.sent = 0
        self.dropped = 0

    def submit(self, messages: list[Message]) -> None:
        """Queue ``messages`` for sending; never blocks, never raises."""
        if not messages:
            return
        try:
            loop = self._ensure_started()
            with self._lock:
                if self._pending + len(messages) > MAX_PENDING:
                    self.dropped += len(messages)
                    return
                self._pending += len(messages)
                self._idle.clear()
            loop.call_soon_threadsafe(self._queue.put_nowait, messages)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a push is best effort; clients re-fetch
            logger.warning("realtime push dropped", exc_info=True)
            self.dropped += len(messages)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far was sent (tests and benchmarks)."""
        return self._idle.wait(timeout)

    def _fresh_loop(self) -> None:
        # First use in this process, after a fork (the parent's thread does not exist here)
        # or after the thread died: whatever the old loop held is gone with it.
        self._ready = threading.Event()
        self._loop = None
        self._pending = 0
        self._idle.set()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        self._thread.ensure_running()
        self._ready.wait(5)  # a new thread's loop; set at once for a running one
        if self._loop is None:
            raise RuntimeError("realtime push thread did not start")
        return self._loop

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._queue = asyncio.Queue()
        self._loop = loop
        self._ready.set()
        sender = loop.create_task(self._sender())
        try:
            loop.run_until_complete(sender)
        except Exception:
            logger.error("realtime push thread stopped", exc_info=True)
        finally:
            sender.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(sender, return_exceptions=True))
            loop.close()

    async def _sender(self) -> None:
        layer = channel_layers.make_backend(self.alias)
        queue = self._queue
        assert queue is not None
        while True:
            batch = await queue.get()
            while not queue.empty():  # coalesce whatever piled up into one round trip batch
                batch = batch + queue.get_nowait()
            try:
                results = await asyncio.gather(
                    *(layer.group_send(group, message) for group, message in batch), return_exceptions=True
                )
                failures = sum(1 for r in results if isinstance(r, BaseException))
            except Exception:  # noqa: BLE001 - keep the thread alive; these pushes are lost
                logger.warning("realtime push batch failed", exc_info=True)
                failures = len(batch)
            if failures:
                logger.warning("realtime group_send failed", extra={"failures": failures})
            with self._lock:
                self.sent += len(batch) - failures
                self.dropped += failures
                self._pending -= len(batch)
                if self._pending <= 0:
                    self._pending = 0
                    self._idle.set()


pusher = Pusher()


def outbox_live_handler(events: Sequence[Event]) -> None:
    """Live outbox consumer: queue pushes for the committed ``events``. Never raises."""
    try:
        messages: list[Message] = []
        for event in events:
            messages.extend(event_messages(event))
        pusher.submit(messages)
    except Exception:  # noqa: BLE001 - must never break the writer; pushes are best effort
        logger.warning("realtime push skipped", exc_info=True)
