"""One asyncio event loop per process, on a thread of its own, for the asyncio broker
clients (aio-pika, nats-py; Redis uses a plain connection, see ``redis_stream``). Every
such destination's connection lives on it, so any thread of the process (a publisher's drain thread, a test) reuses the
destination's open connection, and the brokers of all destinations are awaited side by
side: a broker that does not answer holds only the coroutine awaiting it.

:class:`AsyncPublisher` is what those clients' publishers share: every call to the broker
(connect, publish, close) runs on this loop under a wall-clock deadline, and any client
failure becomes a :class:`PublishError`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from django.conf import settings

from webhooks.destinations.brokers import Message, PublishError

T = TypeVar("T")
CLOSE_TIMEOUT = 2  # seconds; closing is best effort, the connection is dropped either way
# The caller's own wait outlasts the deadline on the loop by this much: it only fires if
# the loop itself is stuck (a blocking call in some client), and still bounds the call.
STUCK_LOOP_GRACE = 1.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: threading.Thread | None = None
_loop_pid = 0


def loop() -> asyncio.AbstractEventLoop:
    """The process's broker loop, started on first use (and anew in a forked child)."""
    global _loop, _loop_thread, _loop_pid
    with _lock:
        alive = _loop_thread is not None and _loop_thread.is_alive()
        if _loop is None or _loop_pid != os.getpid() or not alive:
            _loop = asyncio.new_event_loop()
            _loop_thread = threading.Thread(target=_loop.run_forever, name="event-destination-brokers", daemon=True)
            _loop_pid = os.getpid()
            _loop_thread.start()
        return _loop


def submit(coro: Coroutine[Any, Any, T], *, timeout: float) -> concurrent.futures.Future[T]:
    """Start ``coro`` on the broker loop, cancelled there after ``timeout`` s."""
    return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), loop())


def run(coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
    """Run ``coro`` on the broker loop and wait for it: at most ``timeout`` s (+ the grace
    for a stuck loop). Never call this from the loop's own thread."""
    future = submit(coro, timeout=timeout)
    try:
        return future.result(timeout + STUCK_LOOP_GRACE)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError("the broker loop did not finish the call in time") from None


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
