"""Wall-clock deadlines for blocking socket work.

A socket timeout bounds one operation; a peer that sends a byte just before each timeout
(a webhook receiver dripping its response, a Redis or SMTP server dripping replies) can hold
a thread for ever. Inside :func:`socket_deadline`, every socket registered with
:func:`socket_watch` (the client libraries' connection classes do it right after connect)
is shut down by one watchdog thread per process when the deadline passes, so the blocked
call fails at once. Users: the webhook transport (each attempt), the Redis stream publisher
(connect and each batch), and outbound mail (each send, :mod:`common.mail`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator


class SocketDeadline:
    """One attempt's wall-clock deadline. Every socket the attempt connects or reuses is
    registered as a duplicate descriptor (``socket.fromfd``: ours to close, so the watchdog
    can never shut down a descriptor number the OS has since handed to someone else, and it
    still works while TLS has detached the original socket object during the handshake).
    When the deadline passes, ``shutdown(SHUT_RDWR)`` on the duplicate ends the connection:
    a thread blocked in connect, send, TLS or any read wakes at once with EOF or an error."""

    __slots__ = ("_done", "_fds", "_lock", "_socks", "at", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False
        self._done = False
        self._fds: set[int] = set()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            try:
                fd = sock.fileno()
                if fd < 0 or fd in self._fds:
                    return
                dup = socket.fromfd(fd, sock.family, sock.type)
            except OSError:
                return
            self._fds.add(fd)
            self._socks.append(dup)
            if self.expired:  # the deadline passed while connecting: nothing may be sent
                _shutdown(dup)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for dup in self._socks:
                _shutdown(dup)

    def finish(self) -> None:
        """The attempt is over: the watchdog must not touch its (pooled) connection again."""
        with self._lock:
            self._done = True
            for dup in self._socks:
                dup.close()
            self._socks.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer or by urllib3
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread per process that expires attempts' deadlines in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SocketDeadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="socket-deadline-watchdog", daemon=True).start()

    def add(self, deadline: SocketDeadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, due = heapq.heappop(self._heap)
            due.expire()  # a finished attempt's deadline is a no-op


_watchdog_lock = threading.Lock()
_watchdog: _Watchdog | None = None


def _watchdog_get() -> _Watchdog:
    """The process's watchdog, started lazily (a forked worker child starts its own)."""
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog.pid != os.getpid():
            _watchdog = _Watchdog()
        return _watchdog


_current = threading.local()  # the deadline of the attempt this thread is making


@contextlib.contextmanager
def socket_deadline(at: float) -> Iterator[SocketDeadline]:
    """A wall-clock deadline (``time.monotonic()``) for this thread's blocking socket work:
    every socket :func:`socket_watch` registers inside is shut down when ``at`` passes, so a
    peer that drips bytes (each read within its socket timeout) cannot hold the thread past
    it. ``expired`` on the yielded deadline tells whether it was cut. Nested, the inner one
    ends no later than the outer, and the outer is current again after it."""
    outer = socket_deadline_current()
    watched = _current.deadline = SocketDeadline(at if outer is None else min(at, outer.at))
    _watchdog_get().add(watched)
    try:
        yield watched
    finally:
        watched.finish()
        _current.deadline = outer


def socket_deadline_current() -> SocketDeadline | None:
    """This thread's current deadline, if it is inside :func:`socket_deadline`."""
    return getattr(_current, "deadline", None)


def socket_watch(sock: socket.socket | None) -> None:
    """Put ``sock`` under this thread's current :func:`socket_deadline` (none: nothing)."""
    deadline = socket_deadline_current()
    if deadline is not None and sock is not None:
        deadline.watch(sock)
