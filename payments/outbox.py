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
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.correlation import get_correlation_id
from common.redis import redis_client
from common.registry import Registry
from common.tasks import task_send
from common.threads import ProcessThread
from payments.models import Event, Mode

logger = logging.getLogger("tender.outbox")

EventHandler = Callable[[Sequence[Event]], None]


outbox_consumers: Registry[EventHandler] = Registry("outbox consumer")


def register_consumer(name: str, handler: EventHandler) -> None:
    """Register an outbox consumer. Handlers run inside the dispatcher's transaction and
    must be idempotent: they may see an event again after a crash."""
    outbox_consumers.register(name, handler)


def event_record(
    *,
    merchant_id: Any,
    type: str,
    object_type: str,
    object_id: str,
    version: int,
    data: dict[str, Any],
    mode: str = Mode.TEST,
) -> Event:
    """Insert an event in the current transaction (the caller must be inside ``atomic``).
    ``mode`` is its object's (test or live): a key sees only its own mode's events. Events
    of objects without a mode (reconciliation runs, webhook tests) are test events."""
    event = Event.objects.create(
        merchant_id=merchant_id,
        mode=mode,
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
    for the broker, and a burst of commits coalesces (at most one nudge per
    ``NUDGE_MIN_INTERVAL`` per process under load; at once when idle): the flag is cleared
    *before* each nudge, so every commit is followed by a nudge that starts after it.

    A nudge publishes a dispatch only when none is queued (``DISPATCH_QUEUED_KEY``, set
    with NX here and deleted by the dispatcher *before* it drains): a queued dispatch
    that has not started yet will see everything committed before this nudge, so under
    load the API processes send one cheap Redis SET per nudge instead of a Celery message."""
    _nudger.request()


# The dispatch task (payments.outbox_tasks), published by name: that module runs this one.
DISPATCH_TASK = "payments.outbox_tasks.outbox_dispatch"
# Set (NX) by a nudge that publishes a dispatch; deleted when a dispatch starts draining.
DISPATCH_QUEUED_KEY = "tender:outbox:dispatch-queued"
# A lost dispatch message holds nudges back for at most this long; a held-back nudge is
# retried after it.
DISPATCH_QUEUED_TTL_SECONDS = 2


def _publish_nudge() -> bool:
    """Publish a dispatch unless one is queued; False when held back by the flag."""
    try:
        if not redis_client().set(DISPATCH_QUEUED_KEY, "1", nx=True, ex=DISPATCH_QUEUED_TTL_SECONDS):
            return False  # a queued dispatch starts draining after this point: it sees our events
    except Exception:  # noqa: BLE001 - Redis unreachable: publish regardless
        logger.warning("could not check for a queued outbox dispatch; publishing one")
    try:
        task_send(DISPATCH_TASK)
    except Exception:  # noqa: BLE001 - broker down: the Beat sweeper will pick it up
        logger.warning("could not enqueue outbox dispatch; the sweeper will retry")
    return True


def _dispatch_starting() -> None:
    """Clear the queued-dispatch flag before draining, so any later commit nudges anew."""
    try:
        redis_client().delete(DISPATCH_QUEUED_KEY)
    except Exception:  # noqa: BLE001 - the flag expires on its own
        logger.warning("could not clear the queued-dispatch flag")


NUDGE_MIN_INTERVAL = 0.005  # seconds; bounds nudges (mostly a Redis SET NX) to 200/s per process


class _Nudger:
    """The nudge thread of this process (a :class:`ProcessThread`) and the request flag it waits on."""

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._recheck_at: float | None = None
        self._thread = ProcessThread(name="outbox-nudger", target=self._run, prepare=self._fresh_flag)

    def _fresh_flag(self) -> None:
        # A new thread (first use, after a fork) waits on an event no other process shares.
        self._wanted = threading.Event()

    def pending(self) -> bool:
        """Whether a nudge is still to go out (requested, or held back for a retry)."""
        return self._wanted.is_set() or self._recheck_at is not None

    def request(self) -> None:
        self._thread.ensure_running()
        self._wanted.set()

    def _run(self) -> None:
        wanted = self._wanted
        last_publish = 0.0
        while True:
            # A nudge held back by a queued dispatch is tried again once the flag's TTL
            # has passed: if that dispatch's message was lost, this one goes out.
            recheck_at = self._recheck_at
            wanted.wait(None if recheck_at is None else max(0.0, recheck_at - time.monotonic()))
            # Idle: nudge at once. Busy: at most one nudge per NUDGE_MIN_INTERVAL.
            pause = last_publish + NUDGE_MIN_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            wanted.clear()
            last_publish = time.monotonic()
            published = _publish_nudge()
            self._recheck_at = None if published else time.monotonic() + DISPATCH_QUEUED_TTL_SECONDS


_nudger = _Nudger()


DISPATCH_BATCH_SIZE = 200


def outbox_dispatch_batch(*, limit: int = DISPATCH_BATCH_SIZE) -> int:
    """Hand one batch of undispatched events to every durable consumer; return its size.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers share the
    work; consumer writes and the ``dispatched_at`` mark commit together."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True).filter(dispatched_at__isnull=True).order_by("seq")[:limit]
        )
        if not events:
            return 0
        for handler in outbox_consumers.entries():
            handler(events)
        Event.objects.filter(seq__in=[e.seq for e in events]).update(dispatched_at=timezone.now())
    return len(events)


def outbox_dispatch_all(*, max_batches: int = 50) -> int:
    """Drain the outbox (up to ``max_batches`` batches; if that did not empty it, queue
    another dispatch rather than hold this worker)."""
    _dispatch_starting()
    total = 0
    for _ in range(max_batches):
        count = outbox_dispatch_batch()
        total += count
        # A short batch took everything visible and unlocked: no second, empty transaction
        # to find that out (it cost one per dispatch, ~2 per payment at low rates). Events
        # committed since were nudged after the flag was cleared above, so they get a
        # dispatch of their own; rows another dispatcher holds are that dispatcher's.
        if count < DISPATCH_BATCH_SIZE:
            return total
    _publish_nudge()
    return total
