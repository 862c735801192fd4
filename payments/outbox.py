"""The transactional outbox and its consumers.

``event_record`` writes an :class:`Event` inside the caller's transaction. After that
transaction commits (never before, never for a rollback) the ``outbox_dispatch`` task is
nudged; it hands undispatched events, oldest first, to every consumer (webhook fan-out,
websocket pushes) and marks them dispatched in the same transaction as the consumers' own
writes. A Beat sweeper re-runs dispatch, so a lost nudge (Redis down, worker killed) only
delays delivery; it never loses an event. Consumers run in the dispatcher, never in the
process that committed: pushing from API processes cost ~30 % of payment-create throughput.

Consumers register themselves (``AppConfig.ready``); this module imports none of them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from payments.correlation import get_correlation_id
from payments.models import Event

logger = logging.getLogger("tender.outbox")

EventHandler = Callable[[Sequence[Event]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: EventHandler


_consumers: dict[str, Consumer] = {}


def register_consumer(name: str, handler: EventHandler) -> None:
    """Register an outbox consumer. Handlers run inside the dispatcher's transaction and
    must be idempotent: they may see an event again after a crash."""
    _consumers[name] = Consumer(name=name, handler=handler)


def consumers() -> list[Consumer]:
    return list(_consumers.values())


def event_record(
    *,
    merchant_id: Any,
    type: str,
    object_type: str,
    object_id: str,
    version: int,
    data: dict[str, Any],
) -> Event:
    """Insert an event in the current transaction (the caller must be inside ``atomic``)."""
    event = Event.objects.create(
        merchant_id=merchant_id,
        type=type,
        object_type=object_type,
        object_id=object_id,
        version=version,
        data=data,
        correlation_id=get_correlation_id(),
    )
    outbox_nudge_after_commit()
    return event


def outbox_nudge_after_commit() -> None:
    """Nudge the dispatcher once the current transaction commits. Also for callers that
    insert event rows themselves (the payment-create hot path, reconciliation's bulk
    inserts). Django drops the callback with a rolled-back transaction or savepoint."""
    transaction.on_commit(outbox_nudge)


def outbox_nudge() -> None:
    """Ask a worker to dispatch now. Losing this message is harmless (the sweeper runs).

    The publish happens on one background thread per process, so a request never waits
    for the broker, and a burst of commits coalesces into few messages (at most one per
    ``NUDGE_MIN_INTERVAL`` under load; at once when idle): the flag is cleared *before*
    each publish, so every commit is followed by a publish that starts after it (the
    dispatcher drains everything committed by then)."""
    _nudger.request()


def _publish_nudge() -> None:
    from payments.outbox_tasks import outbox_dispatch

    try:
        outbox_dispatch.delay()
    except Exception:  # noqa: BLE001 - broker down: the Beat sweeper will pick it up
        logger.warning("could not enqueue outbox dispatch; the sweeper will retry")


NUDGE_MIN_INTERVAL = 0.02  # seconds; bounds nudges to 50/s per process under load


class _Nudger:
    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def request(self) -> None:
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            with self._lock:  # (re)start lazily: after fork (prefork workers) the thread is gone
                if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                    self._wanted = threading.Event()
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="outbox-nudger", daemon=True)
                    self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        wanted = self._wanted
        last_publish = 0.0
        while True:
            wanted.wait()
            # Idle: nudge at once. Busy: at most one nudge per NUDGE_MIN_INTERVAL.
            pause = last_publish + NUDGE_MIN_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            wanted.clear()
            last_publish = time.monotonic()
            _publish_nudge()


_nudger = _Nudger()


def outbox_dispatch_batch(*, limit: int = 200) -> int:
    """Hand one batch of undispatched events to every durable consumer; return its size.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers share the
    work; consumer writes and the ``dispatched_at`` mark commit together."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True).filter(dispatched_at__isnull=True).order_by("seq")[:limit]
        )
        if not events:
            return 0
        for consumer in consumers():
            consumer.handler(events)
        Event.objects.filter(seq__in=[e.seq for e in events]).update(dispatched_at=timezone.now())
    return len(events)


def outbox_dispatch_all(*, max_batches: int = 50) -> int:
    total = 0
    for _ in range(max_batches):
        count = outbox_dispatch_batch()
        total += count
        if count == 0:
            break
    return total
