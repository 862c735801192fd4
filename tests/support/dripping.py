"""A hostile peer for deadline tests: a loopback TCP server that, on each connection, runs
an optional ``prelude`` (enough protocol to bring the client to the step under test), then
sends ``drip`` one byte at a time, every ``interval`` seconds, for ever. Each byte comes well
inside any socket timeout: only a wall-clock deadline on the whole call ends the client's wait."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class DrippingServer:
    def __init__(
        self, *, drip: bytes, interval: float = 0.1, prelude: Callable[[socket.socket], bool] | None = None
    ) -> None:
        self._drip_bytes, self._interval, self._prelude = drip, interval, prelude
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by close()
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            if self._prelude is not None and not self._prelude(conn):
                return
            for byte in itertools.cycle(self._drip_bytes):
                if self._stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(self._interval)

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@contextmanager
def dripping_server(**options) -> Iterator[DrippingServer]:
    server = DrippingServer(**options)
    try:
        yield server
    finally:
        server.close()
