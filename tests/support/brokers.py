"""Real message brokers for the event-stream tests: the machine's shared RabbitMQ and NATS
(each test uses its own vhost / subjects / streams and deletes them), and private broker
processes on free ports that a test may stop and start (an outage must never touch the
brokers other runs share). RabbitMQ is not started privately: a :class:`TcpProxy` in front
of the shared broker is cut and restored instead, which is what a client sees of a broker
restart (every connection drops, new ones are refused)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port, stop_process, wait_for

RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
NATS_URL = "nats://127.0.0.1:4222"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{uuid.uuid4().hex[:8]}"


# --- RabbitMQ: a vhost of our own on the shared broker ---------------------------------------


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh vhost (guest has all rights in it), deleted afterwards; yields its name."""
    assert port_open(RABBITMQ_PORT), "RabbitMQ must run on 127.0.0.1:5672 (scripts/services-up.sh starts it)"
    name = unique("tender-test-")
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        _rabbitmqctl("delete_vhost", name)


# --- NATS: streams of our own on the shared server ------------------------------------------


def nats_streams_delete(url: str, names: list[str]) -> None:
    import nats

    async def run() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for name in names:
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(run())


# --- private broker processes ------------------------------------------------------------------


class PrivateBroker:
    """A broker process on a free port with its data in ``data_dir``, so it can be stopped
    and started again with its data (persistence on, as a production broker has)."""

    def __init__(self, *, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.data_dir,
        )
        wait_for(lambda: port_open(self.port), timeout=20, message=f"{self.command()[0]} on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        wait_for(lambda: not port_open(self.port), timeout=10, message="the broker's port to close")


class PrivateRedis(PrivateBroker):
    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class PrivateNats(PrivateBroker):
    def command(self) -> list[str]:
        return ["/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.data_dir)]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


@contextmanager
def running(broker: PrivateBroker) -> Iterator[PrivateBroker]:
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class TcpProxy:
    """A loopback TCP proxy to ``upstream`` that a test can cut (every connection closed,
    the port refusing) and restore on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets.difference_update((a, b))

    def cut(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        wait_for(lambda: not port_open(self.port), timeout=5, message="the proxy port to close")

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()
