"""One private asyncio event loop per thread for the asyncio broker clients (aio-pika,
nats-py, redis-py's asyncio client), so a Celery worker slot (prefork child or thread) drives its own connections
synchronously. Connections are tied to the loop that made them: keep them per thread.

:class:`AsyncPublisher` is what those clients' publishers share: every call to the broker
(connect, publish, close) runs on this loop under a wall-clock deadline, and any client
failure becomes a :class:`PublishError`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from django.conf import settings

from webhooks.destinations.brokers import Message, PublishError

T = TypeVar("T")
_local = threading.local()
CLOSE_TIMEOUT = 2  # seconds; closing is best effort, the connection is dropped either way


def loop() -> asyncio.AbstractEventLoop:
    current = getattr(_local, "loop", None)
    if current is None or current.is_closed() or _local.pid != os.getpid():
        current = asyncio.new_event_loop()
        _local.loop, _local.pid = current, os.getpid()
    return current


def run(coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
    """Run ``coro`` to completion on this thread's loop, cancelled after ``timeout`` s."""
    return loop().run_until_complete(asyncio.wait_for(coro, timeout))


class AsyncPublisher:
    """A publisher over an asyncio client: subclasses set ``_connection`` in ``_connect``
    (called through :meth:`_open`), implement ``_publish`` and map client errors in
    ``_error``."""

    _connection: Any = None

    def _open(self, connecting: Coroutine[Any, Any, None]) -> None:
        try:
            run(
                connecting,
                timeout=settings.EVENT_DESTINATION_CONNECT_TIMEOUT + settings.EVENT_DESTINATION_PUBLISH_TIMEOUT,
            )
        except Exception as exc:  # every client failure is a failed publish
            self.close()
            raise self._error(exc) from exc

    async def _publish(self, messages: Sequence[Message]) -> None:
        raise NotImplementedError

    def _error(self, exc: BaseException) -> PublishError:
        raise NotImplementedError

    def publish(self, messages: Sequence[Message]) -> None:
        try:
            run(self._publish(messages), timeout=settings.EVENT_DESTINATION_PUBLISH_TIMEOUT)
        except Exception as exc:  # every client failure is a failed publish
            raise self._error(exc) from exc

    def close(self) -> None:
        if self._connection is not None:
            # Closing a broken connection may fail; it is dropped either way.
            with contextlib.suppress(Exception):
                closing = getattr(self._connection, "aclose", None) or self._connection.close
                run(closing(), timeout=CLOSE_TIMEOUT)
            self._connection = None
