"""Publishing: the outbox consumer that wakes the publisher, and the per-destination drain.

Life of a destination's events:

1. ``destinations_nudge`` is a durable outbox consumer (registered in ``apps.py``): for a
   dispatched batch it NOTIFYs, in the dispatch's transaction (so at its commit), the ids
   of the enabled destinations of those merchants whose filter matches and that are not
   backing off. It writes nothing: the cursor in PostgreSQL is the only state.
2. ``destination_publish`` (called by the ``streams`` process, :mod:`runner`) takes the
   destination's lease (one publisher at a time), reads the events after its cursor in log
   order with the events API's gap-free visibility rule, publishes them in batches and
   advances the cursor only after the broker confirmed the batch (and only if the lease and
   the cursor are still as it read them: a replay moves the cursor under a running
   publisher, which then continues from there). With nothing left it waits, lease kept, for
   the destination's next wake (``wait_for_more``), up to ``STICKY_IDLE_SECONDS``.
3. A failed batch records ``last_error`` and backs off (``EVENT_DESTINATION_RETRY_DELAYS``);
   nothing else waits for it. After ``EVENT_DESTINATION_NOTIFY_AFTER_SECONDS`` of failing,
   an ``event_destination.failing`` event tells the merchant (webhooks and the other
   destinations carry it).
4. ``destinations_due`` is the publisher's poll: it finds what a lost wake, a killed
   publisher (whose lease expires) or an elapsed backoff left undone.

Delivery is at least once: a crash between the broker's confirm and the cursor update
resends that batch, and every message carries the event id to deduplicate by.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from payments.event_patterns import event_type_matches
from payments.models import Event
from payments.outbox import event_record
from payments.selectors.events import event_log_horizon
from webhooks.destinations.brokers import Message, Publisher, PublishError, broker_url_with_credentials
from webhooks.destinations.brokers.registry import adapter_for
from webhooks.destinations.models import SEQ_END, EventDestination
from webhooks.destinations.selectors import NOT_STREAMED, destination_events_after_cursor, destination_snapshot
from webhooks.signing import body_encode, data_decode, payload_build

logger = logging.getLogger("tender.event_destinations")

# Committed events the visibility rule still holds back are looked for again after 5 ms,
# doubling up to this (one cheap query each time; the commit -> visible latency target is 100 ms).
HELD_BACK_WAIT_MAX = 0.05
# How long a drain with nothing left waits, lease kept, for the next wake of its destination
# (a live flow wakes it every few milliseconds). The publisher process ends the wait early
# when another destination is waiting for a drain thread.
STICKY_IDLE_SECONDS = 0.5

WaitForMore = Callable[[float], bool]


# What a message is built from: plain rows, not model instances or named rows, and the time
# as epoch seconds (the body's "timestamp"), not a datetime parsed per event.
_EPOCH = RawSQL('floor(extract(epoch from "events"."created_at"))::bigint', ())
# The data as its JSON text: decoded once here, floats refused in the same pass (psycopg's
# jsonb loader would decode it, and body_encode decode the body again to look for floats).
_DATA_JSON = Cast("data", TextField())
_ROW = ("id", "type", "object_id", "version", "data_json", "epoch", "correlation_id", "txid", "seq")
_TXID, _SEQ = _ROW.index("txid"), _ROW.index("seq")


def message_build(event: Event) -> Message:
    """The message of an event: the exact signed webhook body (same builder, same bytes)."""
    body = body_encode(
        payload_build(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)
    )
    return Message(
        event_id=event.id,
        type=event.type,
        object_id=event.object_id,
        version=event.version,
        body=body,
        correlation_id=event.correlation_id,
    )


def _messages_build(rows: list[tuple]) -> list[Message]:
    """The messages of rows read by :func:`_batch_read`, as :func:`message_build` makes them."""
    return [
        Message(
            event_id=event_id,
            type=type_,
            object_id=object_id,
            version=version,
            body=body_encode(
                payload_build(event_id=event_id, event_type=type_, timestamp=epoch, data=data_decode(data_json)),
                floats_checked=True,
            ),
            correlation_id=correlation_id,
        )
        for event_id, type_, object_id, version, data_json, epoch, correlation_id, _txid, _seq in rows
    ]


# --- wakes: the outbox consumer and PostgreSQL NOTIFY -----------------------------------------

# The channel the publisher process LISTENs on; the payload is destination ids, comma-separated.
WAKE_CHANNEL = "tender_event_destinations"
_WAKE_IDS_PER_NOTIFY = 200  # a NOTIFY payload holds at most 8,000 bytes; an id is ~21


def destinations_wake(*, destination_ids: Sequence[str]) -> None:
    """Wake the publisher process(es) for these destinations with a NOTIFY. Inside a
    transaction PostgreSQL delivers it when that commits (never for a rollback), so the
    publisher wakes right after the writes it is to publish are visible; outside one, at
    once. A lost wake (no publisher listening then) is harmless: the publisher polls."""
    ids = list(dict.fromkeys(destination_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(ids), _WAKE_IDS_PER_NOTIFY):
            chunk = ",".join(ids[start : start + _WAKE_IDS_PER_NOTIFY])
            cursor.execute("SELECT pg_notify(%s, %s)", [WAKE_CHANNEL, chunk])


def destinations_nudge(events: Sequence[Event]) -> int:
    """Durable outbox consumer: wake the publisher, when the dispatch commits, for every
    destination with a matching event in the batch that is not backing off (a backing-off
    one has a retry). A destination being drained is woken too: its drain waits for that
    wake, lease kept, instead of ending and starting again."""
    streamed = [e for e in events if e.type not in NOT_STREAMED]
    if not streamed:
        return 0
    now = timezone.now()
    rows = (
        EventDestination.objects.filter(merchant_id__in={e.merchant_id for e in streamed}, enabled=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("id", "merchant_id", "mode", "event_types")
    )
    wanted = [
        pk
        for pk, merchant_id, mode, patterns in rows
        if any(
            e.merchant_id == merchant_id and e.mode == mode and event_type_matches(patterns, e.type) for e in streamed
        )
    ]
    destinations_wake(destination_ids=wanted)  # in the dispatch's transaction: sent at its commit
    return len(wanted)


def destinations_due(*, limit: int = 1000) -> list[str]:
    """The publisher's poll: every enabled destination with committed events after its
    cursor, no live lease and no backoff pending (what a lost wake, a killed publisher
    whose lease expired or an elapsed backoff left to do)."""
    now = timezone.now()
    candidates = (
        EventDestination.objects.filter(enabled=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("updated_at")[:limit]
    )
    return [d.pk for d in candidates if destination_events_after_cursor(destination=d, visible_only=False).exists()]


# --- the publisher ----------------------------------------------------------------------------


@dataclass
class PublishResult:
    published: int = 0
    failed: bool = False
    more: bool = False  # stopped by the time budget with work left: run again
    retry_in: float | None = None  # after a failed batch: its backoff, in seconds


def destination_publish(
    *, destination_id: str, time_budget: float | None = None, wait_for_more: WaitForMore | None = None
) -> PublishResult:
    """Publish the destination's events from its cursor, batch after batch, for up to
    ``time_budget`` seconds (then ``more`` says work is left). Returns at once when another
    publisher holds the lease or the destination is backing off. Safe to call from any
    number of threads and processes at once: the lease lets one of them publish.

    ``wait_for_more(timeout) -> bool`` (the publisher process's): when everything committed
    is published, the drain waits on it, keeping the lease, for the next wake of this
    destination; True means woken, so it reads again at once. A live flow then costs a read,
    a publish and a cursor write per wake, not a lease taken and released around them."""
    budget = settings.EVENT_DESTINATION_DRAIN_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    total = PublishResult()
    while True:
        token = uuid.uuid4()
        destination = _lease_take(destination_id=destination_id, token=token)
        if destination is None:
            return total
        result = _drain(destination=destination, token=token, deadline=deadline, wait_for_more=wait_for_more)
        total.published += result.published
        if result.failed:
            total.failed, total.retry_in = True, result.retry_in
            return total  # the failure released the lease and recorded the backoff
        _lease_release(destination_id=destination_id, token=token)
        if result.more:
            total.more = True
            return total
        # Events committed while we held the lease woke no one (the nudge skips a held
        # lease): our release has committed, so this look cannot miss them.
        destination.refresh_from_db()
        if not destination_events_after_cursor(destination=destination, visible_only=False).exists():
            return total
        if time.monotonic() >= deadline:
            total.more = True
            return total


def _lease_take(*, destination_id: str, token: uuid.UUID) -> EventDestination | None:
    now = timezone.now()
    taken = (
        EventDestination.objects.filter(pk=destination_id, enabled=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(lease_token=token, locked_until=now + timedelta(seconds=settings.EVENT_DESTINATION_LEASE_SECONDS))
    )
    if not taken:
        return None
    return EventDestination.objects.filter(pk=destination_id, lease_token=token).first()


def _lease_release(*, destination_id: str, token: uuid.UUID) -> None:
    EventDestination.objects.filter(pk=destination_id, lease_token=token).update(locked_until=None, lease_token=None)


def _batch_read(destination: EventDestination, *, after: tuple[int, int] | None = None) -> list[tuple]:
    """The next batch after the cursor (or after ``after``), as rows of ``_ROW``."""
    qs = destination_events_after_cursor(destination=destination, after=after).annotate(
        epoch=_EPOCH, data_json=_DATA_JSON
    )
    return list(qs.values_list(*_ROW)[: settings.EVENT_DESTINATION_BATCH_SIZE])


def _drain(
    *, destination: EventDestination, token: uuid.UUID, deadline: float, wait_for_more: WaitForMore | None = None
) -> PublishResult:
    """Publish under the lease until nothing committed is left after the cursor (and, with
    ``wait_for_more``, no wake came within ``STICKY_IDLE_SECONDS``), the deadline passes,
    the lease is lost or a batch fails. While the broker confirms one batch, the next is
    read (from the end of the one in flight; thrown away if it fails)."""
    result = PublishResult()
    events, messages = _batch_read(destination), None
    wait = 0.005
    while True:
        if not events:
            if not destination_events_after_cursor(destination=destination, visible_only=False).exists():
                left = deadline - time.monotonic()
                if wait_for_more is not None and left > 0 and wait_for_more(min(STICKY_IDLE_SECONDS, left)):
                    events, messages = _batch_read(destination), None
                    continue
                _cursor_skip_to_horizon(destination=destination, token=token)
                return result
            # Committed but still held back by the visibility rule (an older transaction of
            # this database is open): usually visible within milliseconds, so wait rather
            # than strand them, looking less often the longer it takes (5 ms up to 50 ms).
            if time.monotonic() >= deadline:
                result.more = True
                return result
            time.sleep(wait)
            wait = min(wait * 2, HELD_BACK_WAIT_MAX)
            events, messages = _batch_read(destination), None
            continue
        wait = 0.005
        messages = messages if messages is not None else _messages_build(events)
        confirm = _broker_thread().submit(_publish_batch, destination=destination, messages=messages)
        # While the broker confirms, the next batch is read and built.
        last = (events[-1][_TXID], events[-1][_SEQ])
        ahead = _batch_read(destination, after=last) if time.monotonic() < deadline else []
        ahead_messages = _messages_build(ahead)
        try:
            confirm.result()
        except PublishError as exc:
            result.retry_in = _failure_record(destination=destination, token=token, error=exc)
            result.failed = True
            return result
        if not _cursor_advance(destination=destination, token=token, last=last, count=len(events)):
            destination.refresh_from_db()
            if destination.lease_token != token or not destination.enabled:
                return result  # lease lost (expired and retaken) or disabled: stop here
            events, messages = _batch_read(destination), None  # a replay moved the cursor: go on from there
            continue
        result.published += len(events)
        if time.monotonic() >= deadline:
            result.more = True
            return result
        events, messages = ahead, ahead_messages


def _cursor_advance(*, destination: EventDestination, token: uuid.UUID, last: tuple[int, int], count: int) -> bool:
    """Move the cursor past ``last`` if the lease and the cursor are as we read them: one
    statement (its own transaction). The publisher process's sessions commit without waiting
    for the WAL flush (``runner``, ``EVENT_DESTINATION_RELAXED_COMMIT``)."""
    moved = _cursor_update(destination=destination, token=token, last=last, count=count, now=timezone.now())
    if moved:
        destination.cursor_txid, destination.cursor_seq = last
        destination.failing_since = None
        destination.consecutive_failures = 0
    return bool(moved)


def _cursor_update(
    *, destination: EventDestination, token: uuid.UUID, last: tuple[int, int], count: int, now: Any
) -> int:
    return EventDestination.objects.filter(
        pk=destination.pk, lease_token=token, cursor_txid=destination.cursor_txid, cursor_seq=destination.cursor_seq
    ).update(
        cursor_txid=last[0],
        cursor_seq=last[1],
        published_total=F("published_total") + count,
        last_published_at=now,
        failing_since=None,
        consecutive_failures=0,
        next_attempt_at=None,
        failure_notified_at=None,
        locked_until=now + timedelta(seconds=settings.EVENT_DESTINATION_LEASE_SECONDS),
        updated_at=now,
    )


def _cursor_skip_to_horizon(*, destination: EventDestination, token: uuid.UUID) -> None:
    """Move the cursor up to the visibility horizon when no event the filter matches lies
    between them, so later reads (and the lag count) do not rescan the events the filter
    skips. The horizon is read *first*: every transaction below it has finished by then,
    so the look that follows sees all of their events (read the other way round, a
    transaction committing between the look and the horizon would be skipped)."""
    horizon = event_log_horizon()
    if horizon - 1 <= destination.cursor_txid:
        return
    between = destination_events_after_cursor(destination=destination, visible_only=False).filter(txid__lt=horizon)
    if between.exists():
        return
    moved = EventDestination.objects.filter(
        pk=destination.pk, lease_token=token, cursor_txid=destination.cursor_txid, cursor_seq=destination.cursor_seq
    ).update(cursor_txid=horizon - 1, cursor_seq=SEQ_END)
    if moved:
        destination.cursor_txid, destination.cursor_seq = horizon - 1, SEQ_END


def retry_delay_seconds(*, failures: int) -> float:
    """Backoff after ``failures`` consecutive failed batches: the schedule's step, then its
    last value for ever (a destination is never given up on), +/- 20 % jitter."""
    delays = settings.EVENT_DESTINATION_RETRY_DELAYS
    delay = float(delays[min(failures, len(delays)) - 1])
    return delay * (1 + random.uniform(-0.2, 0.2))


def _failure_record(*, destination: EventDestination, token: uuid.UUID, error: PublishError) -> float:
    """Record the failed batch and back off; returns the backoff in seconds."""
    now = timezone.now()
    failures = destination.consecutive_failures + 1
    delay = retry_delay_seconds(failures=failures)
    logger.warning(
        "event destination publish failed",
        extra={"destination_id": destination.pk, "error_class": error.error_class, "failures": failures},
    )
    with transaction.atomic():
        changed = EventDestination.objects.filter(pk=destination.pk, lease_token=token).update(
            consecutive_failures=failures,
            failing_since=Coalesce(F("failing_since"), now),
            last_error=f"{error.error_class}: {error.detail}"[:512],
            next_attempt_at=now + timedelta(seconds=delay),
            locked_until=None,
            lease_token=None,
            updated_at=now,
        )
        if not changed:
            return delay
        destination.refresh_from_db()
        failing_for = (now - destination.failing_since).total_seconds() if destination.failing_since else 0
        if destination.failure_notified_at is None and failing_for >= settings.EVENT_DESTINATION_NOTIFY_AFTER_SECONDS:
            EventDestination.objects.filter(pk=destination.pk).update(failure_notified_at=now)
            event_record(
                merchant_id=destination.merchant_id,
                mode=destination.mode,
                type="event_destination.failing",
                object_type="event_destination",
                object_id=destination.pk,
                version=int(destination.failing_since.timestamp()),
                data={"event_destination": destination_snapshot(destination, lag=False)},
            )
    return delay


# --- broker connections: one per destination and process, kept open -------------------------


@dataclass
class _Connection:
    key: str
    publisher: Publisher
    last_used: float


# Only the lease holder uses a destination's entry; the lock guards the dict itself and is
# never held while connecting (a broker that does not answer must not hold up the others).
_connections_lock = threading.Lock()
_connections_by_pid: dict[int, dict[str, _Connection]] = {}
_local = threading.local()


def _connections() -> dict[str, _Connection]:
    # Keyed by pid: a forked child never reuses its parent's sockets.
    with _connections_lock:
        return _connections_by_pid.setdefault(os.getpid(), {})


def _broker_thread() -> ThreadPoolExecutor:
    """The thread that waits for the broker for this drain thread (one each), so the next
    batch is read from PostgreSQL while the broker confirms the current one. RabbitMQ and
    NATS calls run on the process's broker loop (:mod:`brokers.aio`), Redis calls on this
    thread itself; it never opens a database connection."""
    executor = getattr(_local, "broker_thread", None)
    if executor is None or getattr(_local, "broker_pid", None) != os.getpid():
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-destination-broker")
        _local.broker_thread, _local.broker_pid = executor, os.getpid()
    return executor


def broker_connections_close() -> None:
    """Close this process's broker connections (tests; a clean shutdown)."""
    for destination_id in list(_connections()):
        _connection_drop(destination_id)


def _connection_key(destination: EventDestination) -> str:
    return json.dumps([destination.type, destination.target, destination.credentials], sort_keys=True)


def _connection_drop(destination_id: str) -> None:
    connections = _connections()
    with _connections_lock:
        entry = connections.pop(destination_id, None)
    if entry is not None:
        entry.publisher.close()


def _publish_batch(*, destination: EventDestination, messages: list[Message]) -> None:
    """Publish and await the broker's confirms; raise PublishError. A kept connection that
    fails is replaced once at once (the broker may have dropped it while idle), so only a
    fresh connection's failure counts against the destination."""
    connections = _connections()
    key = _connection_key(destination)
    entry = connections.get(destination.pk)
    now = time.monotonic()
    if entry is not None and (entry.key != key or now - entry.last_used > settings.EVENT_DESTINATION_IDLE_SECONDS):
        _connection_drop(destination.pk)
        entry = None
    for _ in range(2):
        fresh = entry is None
        if entry is None:
            broker = broker_url_with_credentials(url=destination.target["url"], credentials=destination.credentials)
            publisher = adapter_for(destination.type).publisher_open(broker=broker, target=destination.target)
            entry = _Connection(key=key, publisher=publisher, last_used=now)
            with _connections_lock:
                connections[destination.pk] = entry
        try:
            entry.publisher.publish(messages)
        except PublishError:
            _connection_drop(destination.pk)
            if fresh:
                raise
            entry = None
            continue
        entry.last_used = time.monotonic()
        return
