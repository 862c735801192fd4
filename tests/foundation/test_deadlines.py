"""common.deadlines: a socket under a deadline is cut when it passes, however the peer
behaves; a nested deadline ends no later than the outer one, which is current again after."""

from __future__ import annotations

import socket
import time

from common.deadlines import socket_deadline, socket_deadline_current, socket_watch
from tests.support.dripping import dripping_server


def test_a_dripping_peer_is_cut_at_the_deadline_not_by_the_socket_timeout():
    with dripping_server(drip=b"x") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        received = b""
        with socket_deadline(time.monotonic() + 0.8) as deadline:
            socket_watch(sock)
            started = time.monotonic()
            while chunk := sock.recv(1):  # each byte within 0.1 s: recv never times out
                received += chunk
        assert deadline.expired and received  # the peer was sending when it was cut
        assert time.monotonic() - started < 0.8 + 1.0
        sock.close()


def test_a_nested_deadline_ends_by_the_outer_one_and_gives_it_back():
    now = time.monotonic()
    with socket_deadline(now + 1) as outer:
        with socket_deadline(now + 60) as inner:
            assert inner.at == outer.at and socket_deadline_current() is inner
        assert socket_deadline_current() is outer
    assert socket_deadline_current() is None
