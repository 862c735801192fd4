"""Publishing Celery tasks after commit without making the request wait for the broker.

``publish_after_commit(batch_task, arg)`` registers an ``on_commit`` hook that hands
``arg`` to one background thread per process. The thread drains whatever has queued up and
publishes ONE message per batch task carrying ``[[arg, correlation_id], ...]`` (at most
``MAX_BATCH`` items). When idle it publishes at once; under load it publishes at most once
per ``MIN_INTERVAL`` (25 ms), so many commits share one broker message (a Celery publish
costs more CPU than the rest of a payment create) and the request thread never waits.
Each item keeps its request's correlation id; the batch task restores it per item.

A message lost here (process killed, broker down) is re-derived from PostgreSQL by the
stuck-payment sweeper, exactly like a message lost inside the broker.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from django.db import transaction

from payments.correlation import get_correlation_id

logger = logging.getLogger("tender.publisher")
MAX_BATCH = 50
MIN_INTERVAL = 0.025  # seconds between two publishes of one process, under load only


class _Publisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def put(self, item: tuple[Any, Any, str | None]) -> None:
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            with self._lock:  # (re)start lazily: a forked child inherits no running thread
                if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                    self._queue = queue.SimpleQueue()
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="task-publisher", daemon=True)
                    self._thread.start()
        self._queue.put(item)

    def _run(self) -> None:
        q = self._queue
        last_publish = 0.0
        while True:
            batches: dict[Any, list[list[Any]]] = {}
            task, arg, correlation_id = q.get()
            # Idle: publish at once. Busy: at most one publish per MIN_INTERVAL, carrying
            # everything that arrived meanwhile (adds at most MIN_INTERVAL, only under load).
            pause = last_publish + MIN_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            last_publish = time.monotonic()
            batches.setdefault(task, []).append([arg, correlation_id])
            while sum(len(b) for b in batches.values()) < MAX_BATCH:
                try:
                    task, arg, correlation_id = q.get_nowait()
                except queue.Empty:
                    break
                batches.setdefault(task, []).append([arg, correlation_id])
            for batch_task, items in batches.items():
                try:
                    batch_task.delay(items)
                except Exception:  # noqa: BLE001 - the sweepers re-derive lost work from PostgreSQL
                    logger.warning("could not publish task", extra={"task": batch_task.name, "count": len(items)})


_publisher = _Publisher()


def publish_after_commit(batch_task: Any, arg: Any) -> None:
    """After the current transaction commits (never for a rollback), publish ``arg`` to
    ``batch_task`` (which takes ``items: list[[arg, correlation_id]]``) from the
    background publisher thread."""
    correlation_id = get_correlation_id()
    transaction.on_commit(lambda: _publisher.put((batch_task, arg, correlation_id)))
