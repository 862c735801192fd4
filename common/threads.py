"""A per-process background thread, started on demand.

The outbox's nudger and the realtime pusher each keep one daemon thread so that a request (or a
dispatcher) hands work over without waiting. Such a thread exists only in the process that
started it: after a fork (Celery's prefork children, gunicorn workers) the child has the
parent's object but not its thread, and a thread can also die. :class:`ProcessThread` starts
one on first use and again whenever this process has none running.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


def _nothing() -> None:
    return None


class ProcessThread:
    """A daemon thread running ``target`` in this process. ``prepare`` runs under the start
    lock just before each (re)start, so whatever state the new thread reads (a fresh event, an
    emptied counter) is in place before it runs and before any other caller sees it alive."""

    def __init__(self, *, name: str, target: Callable[[], None], prepare: Callable[[], None] = _nothing) -> None:
        self.name = name
        self._target = target
        self._prepare = prepare
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def is_alive(self) -> bool:
        """Whether this process's thread is running (a forked child's copy is not)."""
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

    def ensure_running(self) -> bool:
        """Start the thread unless this process's is running; True when it started one now."""
        if self.is_alive():
            return False
        with self._lock:
            if self.is_alive():
                return False
            self._prepare()
            self._thread = threading.Thread(target=self._target, name=self.name, daemon=True)
            self._pid = os.getpid()
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (tests that stop it on purpose)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
