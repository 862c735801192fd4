"""A real loopback HTTP receiver for webhook tests: records every request (time, headers,
raw body) and answers according to a small script (fail the first N attempts of each
webhook-id, always fail, sleep, hold until the test releases it, Retry-After, 410).
Hostile receivers (slow, dripping, endless, resetting) run as their own processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Received:
    at: float  # time.time()
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Script:
    fail_first: int = 0  # per webhook-id
    fail_status: int = 500
    always_status: int | None = None
    sleep: float = 0.0
    # Hold every request open until the test sets this event (a hanging merchant server);
    # bounded so a failed test cannot leave server threads behind for long.
    hold: threading.Event | None = None
    hold_max_seconds: float = 60.0
    retry_after: str | None = None
    response_body: bytes = b'{"received":true}'


@dataclass
class Receiver:
    url: str
    script: Script
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0  # concurrent requests to this receiver, at most
    in_flight_ids: dict[str, int] = field(default_factory=dict)
    max_in_flight_per_id: int = 0  # concurrent requests for one webhook-id, at most

    def by_id(self, webhook_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.webhook_id == webhook_id]

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        item = Received(at=time.time(), headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        script = receiver.script
        with receiver.lock:
            receiver.received.append(item)
            seen = sum(1 for r in receiver.received if r.webhook_id == item.webhook_id)
            receiver.in_flight += 1
            receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
            same = receiver.in_flight_ids.get(item.webhook_id, 0) + 1
            receiver.in_flight_ids[item.webhook_id] = same
            receiver.max_in_flight_per_id = max(receiver.max_in_flight_per_id, same)
        try:
            self._answer(receiver, script, seen)
        finally:
            with receiver.lock:
                receiver.in_flight -= 1
                receiver.in_flight_ids[item.webhook_id] -= 1

    def _answer(self, receiver: Receiver, script: Script, seen: int) -> None:
        if script.sleep:
            time.sleep(script.sleep)
        if script.hold is not None:
            script.hold.wait(timeout=script.hold_max_seconds)
        if script.always_status is not None:
            status = script.always_status
        elif seen <= script.fail_first:
            status = script.fail_status
        else:
            status = 200
        payload = script.response_body if status < 300 else b'{"error":"scripted failure"}'
        try:
            self.send_response(status)
            if script.retry_after and status >= 300:
                self.send_header("Retry-After", script.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): that is what we simulate

    def log_message(self, format: str, *args: object) -> None:
        pass


class running_receiver:
    """Context manager: a receiver on a free loopback port."""

    def __init__(self, script: Script | None = None, host: str = "127.0.0.1") -> None:
        self.script = script or Script()
        self.host = host

    def __enter__(self) -> Receiver:
        self.server = _Server((self.host, 0), _Handler)
        port = self.server.server_address[1]
        self.receiver = Receiver(url=f"http://{self.host}:{port}/hooks", script=self.script)
        self.server.receiver = self.receiver
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- hostile receivers, each its own process (tests/webhooks/hostile_receiver.py) ---------------


@dataclass
class HostileRequest:
    webhook_id: str
    opened: float  # time.time(): the request was read in full
    closed: float  # the connection ended (the client hung up, or the receiver did)


@dataclass
class HostileReceiver:
    mode: str
    url: str
    process: subprocess.Popen
    requests: list[HostileRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self) -> list[HostileRequest]:
        with self.lock:
            return list(self.requests)

    def max_open_per_id(self) -> int:
        """The most connections one webhook-id ever had open here at the same moment."""
        by_id: dict[str, list[HostileRequest]] = {}
        for request in self.finished():
            by_id.setdefault(request.webhook_id, []).append(request)
        most = 0
        for requests in by_id.values():
            for request in requests:
                most = max(most, sum(1 for r in requests if r.opened <= request.opened < r.closed))
        return most


class running_hostile_receiver:
    """Context manager: ``hostile_receiver.py MODE`` as its own process on a free loopback
    port; every request it finished is in ``.requests`` (read from its stdout)."""

    def __init__(self, mode: str, *, interval: float = 0.5) -> None:
        self.mode, self.interval = mode, interval
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        """Start the process without waiting for it (so many can start side by side)."""
        script = Path(__file__).with_name("hostile_receiver.py")
        self.process = subprocess.Popen(
            [sys.executable, "-S", str(script), self.mode, "--interval", str(self.interval)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def __enter__(self) -> HostileReceiver:
        if self.process is None:
            self.spawn()
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"hostile receiver {self.mode} did not start: {line!r}")
        self.receiver = HostileReceiver(
            mode=self.mode, url=f"http://127.0.0.1:{int(line.split()[1])}/hooks", process=self.process
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self.receiver

    def _read(self) -> None:
        for line in self.receiver.process.stdout:
            item = json.loads(line)
            with self.receiver.lock:
                self.receiver.requests.append(HostileRequest(item["id"], item["opened"], item["closed"]))

    def __exit__(self, *exc: object) -> None:
        self.receiver.process.kill()
        self.receiver.process.wait(timeout=5)
        self.reader.join(timeout=5)


def hostile_receivers_start(stack: ExitStack, modes: list[str], *, interval: float) -> list[HostileReceiver]:
    """Many hostile receivers, started side by side, each stopped when ``stack`` unwinds."""
    starters = [running_hostile_receiver(mode, interval=interval) for mode in modes]
    for starter in starters:
        starter.spawn()
        stack.callback(lambda s=starter: s.process.poll() is None and s.process.kill())
    return [stack.enter_context(starter) for starter in starters]
