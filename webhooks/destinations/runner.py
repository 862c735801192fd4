"""The event-stream publisher process (``python manage.py event_stream_publisher``: the
``streams`` line of the Procfile, the ``streams`` service of docker-compose).

It stays up, so broker connections stay open (one per destination, on the process's broker
loop) and nothing is looked up again per batch but the cursor:

* It LISTENs on :data:`publishing.WAKE_CHANNEL`. The outbox consumer ``destinations_nudge``
  NOTIFYs there inside the dispatch transaction, so PostgreSQL wakes the publisher the
  moment that commits, with the ids of the destinations to publish; a replay or an enable
  does the same.
* Each woken destination is drained by one of ``threads`` drain threads
  (:func:`publishing.destination_publish`: lease, batches from the cursor, cursor advanced
  after the broker's confirm). A destination is drained by one thread at a time here (and
  by one process at a time anywhere: the lease); a wake that arrives meanwhile makes the
  drain run once more. A drain that used up its time budget queues behind the others, so
  a busy destination shares the threads fairly.
* A failed batch's backoff is kept here and the destination woken when it ends.
* Every ``EVENT_DESTINATION_POLL_SECONDS`` (and at once after (re)connecting the listener)
  it polls for every destination with committed events after its cursor
  (:func:`publishing.destinations_due`): what a wake lost while no publisher listened, a
  killed publisher's expired lease or a wake skipped for a lease left undone.

A broker that does not answer holds one drain thread for at most its deadlines and only its
own destination: the others are drained by the other threads, and their brokers are
awaited side by side on the same loop.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
from django.conf import settings
from django.db import close_old_connections, connection

from webhooks.destinations.publishing import (
    WAKE_CHANNEL,
    PublishResult,
    broker_connections_close,
    destination_publish,
    destinations_due,
)

logger = logging.getLogger("tender.event_destinations")

# A drain that raised (PostgreSQL down, a bug) is tried again after this long.
DRAIN_ERROR_RETRY_SECONDS = 1.0
# The listener reconnects after this long when PostgreSQL refused it.
LISTEN_RECONNECT_SECONDS = 1.0


def _listen_conninfo() -> str:
    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        application_name="tender-event-stream-listener",
        connect_timeout=5,
    )


def _relaxed_commits() -> None:
    """This thread's connection commits without waiting for the WAL flush (when
    ``EVENT_DESTINATION_RELAXED_COMMIT``): the lease and cursor writes of every wake would
    otherwise each wait for an fsync, which was most of commit -> visible under load. A
    PostgreSQL crash can lose only the last of them: a cursor a batch behind (that batch is
    sent again, deduplicated by event id) or a lease that then simply expires. Every
    connection of this process is a publisher's, so the session setting stays with it."""
    if settings.EVENT_DESTINATION_RELAXED_COMMIT:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")


class Publisher:
    """The scheduler of one publisher process: wakes in, drains out to the threads."""

    def __init__(self, *, threads: int, poll_seconds: float) -> None:
        self._poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="event-destination-drain")
        self._lock = threading.Lock()
        self._draining: set[str] = set()
        self._again: set[str] = set()
        # A drain waiting for its destination's next wake waits on that destination's event.
        self._woken: dict[str, threading.Event] = {}
        self._threads = threads
        self._retry_at: dict[str, float] = {}
        self._stop = threading.Event()

    # --- wakes ------------------------------------------------------------------------------

    def wake(self, destination_ids: list[str]) -> None:
        """Drain these destinations: at once, or once more after a running drain."""
        for destination_id in destination_ids:
            with self._lock:
                if destination_id in self._draining:
                    self._again.add(destination_id)
                    self._woken[destination_id].set()
                    continue
                self._draining.add(destination_id)
                self._woken[destination_id] = threading.Event()
                self._retry_at.pop(destination_id, None)
                if self._threads_short():  # drains waiting for more give their thread up
                    for event in self._woken.values():
                        event.set()
            self._pool.submit(self._drain, destination_id)

    def _threads_short(self) -> bool:
        """More destinations to drain than threads: some wait for one (under the lock)."""
        return len(self._draining) > self._threads

    def _wait_for_more(self, destination_id: str, timeout: float) -> bool:
        """A drain with nothing left waits here for its destination's next wake: True when
        woken with no other destination waiting for a thread (False makes it end; a wake
        it did not take makes it run once more, behind the waiting ones)."""
        with self._lock:
            woken = self._woken[destination_id]
            if self._threads_short() or self._stop.is_set():
                return False
        if not woken.wait(timeout):
            return False
        with self._lock:
            if self._threads_short() or self._stop.is_set():
                return False
            woken.clear()
            self._again.discard(destination_id)
            return True

    def _drain(self, destination_id: str) -> None:
        with self._lock:
            self._woken[destination_id].clear()  # this drain reads everything committed so far
        try:
            _relaxed_commits()
            result = destination_publish(
                destination_id=destination_id,
                wait_for_more=lambda timeout: self._wait_for_more(destination_id, timeout),
            )
        except Exception:  # a drain must never kill its thread; the retry below tries again
            logger.exception("event destination drain failed", extra={"destination_id": destination_id})
            connection.close()  # a broken database connection is not reused
            result = PublishResult(failed=True, retry_in=DRAIN_ERROR_RETRY_SECONDS)
        finally:
            close_old_connections()
        with self._lock:
            self._draining.discard(destination_id)
            del self._woken[destination_id]
            again = destination_id in self._again
            self._again.discard(destination_id)
            if result.failed and result.retry_in is not None:
                # + 50 ms: the lease's backoff check compares with the database's clock.
                self._retry_at[destination_id] = time.monotonic() + result.retry_in + 0.05
        if not result.failed and (result.more or again) and not self._stop.is_set():
            self.wake([destination_id])

    def _retries_due(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            due = [d for d, at in self._retry_at.items() if at <= now]
            for destination_id in due:
                del self._retry_at[destination_id]
            return due

    def _next_retry_in(self) -> float | None:
        with self._lock:
            return min(self._retry_at.values()) - time.monotonic() if self._retry_at else None

    # --- the main loop ----------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for event in self._woken.values():
                event.set()

    def serve(self) -> None:
        """Listen, poll and drain until :meth:`stop`; then let running drains finish (each
        within its time budget) and close the broker connections."""
        try:
            while not self._stop.is_set():
                try:
                    self._listen_and_drain()
                except psycopg.Error as exc:
                    logger.warning("event destination listener lost PostgreSQL: %s", exc)
                    self._stop.wait(LISTEN_RECONNECT_SECONDS)
        finally:
            self._pool.shutdown(wait=True)
            broker_connections_close()

    def _listen_and_drain(self) -> None:
        with psycopg.connect(_listen_conninfo(), autocommit=True) as listener:
            listener.execute(f"LISTEN {WAKE_CHANNEL}")
            next_poll = 0.0  # a fresh listener polls at once: wakes may have gone unheard
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_poll:
                    self._poll()
                    next_poll = time.monotonic() + self._poll_seconds
                self.wake(self._retries_due())
                wait = next_poll - time.monotonic()
                retry_in = self._next_retry_in()
                if retry_in is not None:
                    wait = min(wait, retry_in)
                # Short enough that stop() is noticed promptly.
                woken: list[str] = []
                for notify in listener.notifies(timeout=max(0.0, min(wait, 0.5)), stop_after=1):
                    woken.extend(i for i in notify.payload.split(",") if i)
                self.wake(woken)

    def _poll(self) -> None:
        try:
            self.wake(destinations_due())
        except Exception:  # PostgreSQL away: the next poll tries again
            logger.exception("event destination poll failed")
            connection.close()
        finally:
            close_old_connections()
