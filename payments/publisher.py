"""Publishing Celery tasks after commit without making the request wait for the broker.

``publish_after_commit(task, *args)`` registers an ``on_commit`` hook that hands the
message to one background thread per process, which publishes it under the request's
correlation id. The request thread never waits for a broker round trip. A message lost
here (process killed, broker down) is re-derived from PostgreSQL by the stuck-payment
sweeper, exactly like a message lost inside the broker.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Any

from django.db import transaction

from payments.correlation import correlation_scope, get_correlation_id

logger = logging.getLogger("tender.publisher")


class _Publisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def put(self, item: tuple[Any, tuple, str | None]) -> None:
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
        while True:
            task, args, correlation_id = q.get()
            with correlation_scope(correlation_id):
                try:
                    task.delay(*args)
                except Exception:  # noqa: BLE001 - the sweepers re-derive lost work from PostgreSQL
                    logger.warning("could not publish task", extra={"task": task.name})


_publisher = _Publisher()


def publish_after_commit(task: Any, *args: Any) -> None:
    """Publish ``task.delay(*args)`` after the current transaction commits (never for a
    rollback), from the background publisher thread."""
    correlation_id = get_correlation_id()
    transaction.on_commit(lambda: _publisher.put((task, args, correlation_id)))
