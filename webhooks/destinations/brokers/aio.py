"""One private asyncio event loop per thread for the asyncio broker clients (aio-pika,
nats-py), so a Celery worker slot (prefork child or thread) drives its own connections
synchronously. Connections are tied to the loop that made them: keep them per thread."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def loop() -> asyncio.AbstractEventLoop:
    current = getattr(_local, "loop", None)
    if current is None or current.is_closed() or _local.pid != os.getpid():
        current = asyncio.new_event_loop()
        _local.loop, _local.pid = current, os.getpid()
    return current


def run(coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
    """Run ``coro`` to completion on this thread's loop, cancelled after ``timeout`` s."""
    return loop().run_until_complete(asyncio.wait_for(coro, timeout))
