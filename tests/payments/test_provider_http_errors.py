"""What a failed HTTP call to an acquirer proves, against real loopback sockets: only a
connection that was never opened is ``ProviderNotReached``; a timeout or a connection lost
after the request was sent is ``ProviderOutcomeUnknown``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests  # noqa: TID251 - the test plays the acquirer's HTTP client

from payments.providers.base import ProviderNotReached, ProviderOutcomeUnknown
from payments.providers.http import provider_error_for

TIMEOUT = (0.5, 0.5)


def _failed_call(url: str) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as caught:
        requests.post(url, data=b'{"payment_id":"pay_x"}', timeout=TIMEOUT, allow_redirects=False)
    return caught.value


@contextmanager
def _acquirer(behaviour) -> Iterator[str]:
    """A listening socket whose one connection gets ``behaviour(conn)``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(65536))
            behaviour(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/payments"
    finally:
        thread.join(timeout=5)
        server.close()
    assert received and received[0].startswith(b"POST /payments")  # the request did arrive


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_proves_the_request_never_arrived():
    error = provider_error_for(_failed_call(f"http://127.0.0.1:{_closed_port()}/payments"))
    assert isinstance(error, ProviderNotReached)


def test_a_name_that_does_not_resolve_proves_the_request_never_arrived():
    assert isinstance(provider_error_for(_failed_call("http://acquirer.invalid/payments")), ProviderNotReached)


def test_a_read_timeout_after_the_request_was_sent_is_ambiguous():
    hold = threading.Event()
    with _acquirer(lambda conn: hold.wait(3)) as url:
        error = provider_error_for(_failed_call(url))
        hold.set()
    assert isinstance(error, ProviderOutcomeUnknown)


def test_a_connection_closed_after_the_request_was_sent_is_ambiguous():
    with _acquirer(lambda conn: None) as url:  # reads the request, then closes without answering
        error = provider_error_for(_failed_call(url))
    assert isinstance(error, ProviderOutcomeUnknown)


def test_a_connection_reset_mid_response_is_ambiguous():
    def reset(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"refer')
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with _acquirer(reset) as url:
        with pytest.raises(requests.RequestException) as caught:
            requests.post(url, data=b"{}", timeout=TIMEOUT).content  # noqa: B018 - reading is the point
        error = provider_error_for(caught.value)
    assert isinstance(error, ProviderOutcomeUnknown)
