"""The production serving layout of ``make run`` (config/serving.py), with real processes:
nginx in front of gunicorn sync workers and daphne, started the way the Procfile starts them.

- chunked request bodies (no Content-Length, as Node's ``http`` sends them) are read on
  every serving path: through the front, gunicorn directly and daphne directly;
- more clients than database connections get 503 + Retry-After in the error envelope,
  never a 500, and the server recovers as soon as the burst is over;
- 200 concurrent long-polls of one merchant hold no database connection and leave another
  merchant's creates unaffected; a push or a re-check wakes them;
- the start-up check refuses a layout that does not fit in PostgreSQL's max_connections.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from config import serving
from payments.models import Order
from tests.payments.factories import OrderFactory, PaymentFactory
from tests.support.processes import ROOT, celery_worker, process_env, serving_layout, wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _request(base: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None):
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _chunked_post(base: str, path: str, chunks: list[bytes], *, headers: dict[str, str]):
    """POST with ``Transfer-Encoding: chunked`` framed by hand: no Content-Length at all."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for chunk in chunks:
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _json_headers(tenant) -> dict[str, str]:
    return {**tenant.headers, "Content-Type": "application/json"}


def test_chunked_bodies_are_read_on_every_serving_path(alice, tmp_path):
    with serving_layout(run_dir=tmp_path) as urls:
        for offset, path in enumerate(("front", "web", "asgi")):
            amount = 12345 + offset
            body = json.dumps({"amount": amount, "currency": "INR", "receipt": f"chunked-{path}"}).encode()
            status, raw = _chunked_post(
                urls[path], "/api/v1/orders", [body[:7], body[7:20], body[20:]], headers=_json_headers(alice)
            )
            assert status == 201, (path, raw)
            created = json.loads(raw)
            assert created["amount"] == amount
            assert Order.objects.get(pk=created["id"]).receipt == f"chunked-{path}"

            # Too large, chunked: the documented 413 envelope, and nothing is written.
            big = b'{"amount": 50000, "currency": "INR", "receipt": "' + b"x" * 100_000 + b'"}'
            status, raw = _chunked_post(
                urls[path], "/api/v1/orders", [big[i : i + 8192] for i in range(0, len(big), 8192)],
                headers=_json_headers(alice),
            )  # fmt: skip
            assert status == 413, (path, raw)
            assert json.loads(raw)["error"]["reason"] == "body_too_large"
        assert Order.objects.count() == 3


def test_websockets_and_pages_through_the_front(alice, tmp_path):
    import websockets.sync.client

    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    with serving_layout(run_dir=tmp_path) as urls:
        front = urls["front"]
        # /ws/ is upgraded through nginx to daphne
        ws_url = front.replace("http://", "ws://") + f"/ws/payments/{payment.id}"
        with websockets.sync.client.connect(ws_url, origin=front, open_timeout=10) as ws:
            snapshot = json.loads(ws.recv(timeout=10))
        assert (snapshot["event"], snapshot["payment"]["id"]) == ("snapshot", payment.id)
        # /static/ comes from collectstatic's output with the checkout SDK's CORS header
        status, headers, _ = _request(front, "GET", "/static/checkout.js", headers={})
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "*"
        # pages and /health come from gunicorn (no worker runs here: /health says degraded)
        status, _, raw = _request(front, "GET", "/health", headers={})
        assert status in {200, 503}
        assert json.loads(raw)["database"] == "connected"


def test_more_clients_than_connections_get_503_with_retry_after_never_500(alice, tmp_path):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    path = f"/api/v1/payments/{payment.id}/status"
    # daphne (which serves the status path) gets one pooled connection and waits 50 ms for it.
    with serving_layout(run_dir=tmp_path, env={"ASGI_POOL_SIZE": "1", "DB_POOL_TIMEOUT": "0.05"}) as urls:
        wait_for(
            lambda: _request(urls["front"], "GET", path, headers=alice.headers)[0] == 200,
            timeout=15,
            message="the status endpoint to answer",
        )
        with ThreadPoolExecutor(max_workers=100) as pool:
            results = list(pool.map(lambda _: _request(urls["front"], "GET", path, headers=alice.headers), range(300)))
        statuses = [status for status, _, _ in results]
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert statuses.count(503) > 0, "the burst never exhausted the pool: the test proves nothing"
        for status, headers, raw in results:
            if status == 503:
                assert int(headers["Retry-After"]) >= 1
                error = json.loads(raw)["error"]
                assert (error["code"], error["reason"]) == ("SERVER_ERROR", "overloaded")
                assert error["correlation_id"]
        # The failures do not outlast the load (they did with persistent per-thread connections).
        status, _, raw = _request(urls["front"], "GET", path, headers=alice.headers)
        assert status == 200
        assert json.loads(raw)["payment_id"] == payment.id


def _channel_group_size(group: str) -> int:
    import redis

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    return redis.Redis.from_url(settings.REDIS_URL).zcard(f"{prefix}:group:{group}")


def _database_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


async def _long_polls(base: str, path: str, headers: dict[str, str], count: int) -> list[tuple[int, dict, float]]:
    parts = urlsplit(base)
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"

    async def one() -> tuple[int, dict, float]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request.encode())
        await writer.drain()
        raw = await reader.read()
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body), time.monotonic()

    return await asyncio.gather(*(one() for _ in range(count)))


def test_200_long_polls_hold_no_connection_and_leave_another_merchants_creates_unaffected(alice, bob, tmp_path):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    wait_seconds = 30
    path = f"/api/v1/payments/{payment.id}/status?wait={wait_seconds}&after_version=1"
    # No re-check within the wait: only the push from the outbox dispatcher can wake a poll.
    env = {"LONG_POLL_RECHECK_SECONDS": "60"}
    with (
        serving_layout(run_dir=tmp_path, env=env) as urls,
        celery_worker(queues="outbox", concurrency=1),
    ):
        front = urls["front"]
        polls: dict = {}
        started = time.monotonic()
        poller = threading.Thread(
            target=lambda: polls.update(results=asyncio.run(_long_polls(front, path, alice.headers, 200)))
        )
        poller.start()
        wait_for(
            lambda: _channel_group_size(f"payment.{payment.id}") == 200, timeout=30, message="200 long-polls waiting"
        )
        # Waiting polls hold no database connection: the backends are the layout's pools at most.
        layout_pools = serving.ROLES["web"].connections + serving.ROLES["asgi"].connections
        assert _database_backends() <= layout_pools + 2  # + the outbox worker's processes

        def create(n: int) -> int:
            body = json.dumps({"amount": 10_000 + n, "currency": "INR"}).encode()
            return _request(front, "POST", "/api/v1/orders", headers=_json_headers(bob), body=body)[0]

        with ThreadPoolExecutor(max_workers=20) as pool:
            creates = list(pool.map(create, range(20)))
        assert creates == [201] * 20
        assert poller.is_alive(), "the polls returned before the creates were done: nothing was measured"
        assert Order.objects.filter(merchant=bob.merchant).count() == 20

        cancelled = _request(front, "POST", f"/api/v1/payments/{payment.id}/cancel", headers=_json_headers(alice))
        assert cancelled[0] == 200, cancelled
        poller.join(wait_seconds + 10)
        assert not poller.is_alive()
        results = polls["results"]
        assert [status for status, _, _ in results] == [200] * 200
        assert {(body["status"], body["version"]) for _, body, _ in results} == {("cancelled", 2)}
        # Woken by the push, well before their deadline (the re-check is 60 s away).
        assert max(done for _, _, done in results) < started + wait_seconds - 2
        wait_for(lambda: _channel_group_size(f"payment.{payment.id}") == 0, timeout=10, message="groups left")


def test_start_up_check_reads_max_connections_and_refuses_a_layout_that_does_not_fit():
    env = process_env()
    fits = subprocess.run(
        [sys.executable, "-m", "config.serving", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert fits.returncode == 0, fits.stderr
    limit, _reserved = serving.server_limits(env["DATABASE_URL"])
    assert f"max_connections {limit}" in fits.stdout

    too_many = subprocess.run(
        [sys.executable, "-m", "config.serving", "check"],
        cwd=ROOT,
        env={**env, "WEBHOOKS_THREADS": str(limit)},
        capture_output=True,
        text=True,
    )
    assert too_many.returncode == 1
    assert "Refusing to start" in too_many.stderr
    assert f"max_connections {limit}" in too_many.stderr
    assert "webhooks" in too_many.stderr


def test_the_default_layout_fits_postgresql_default_max_connections():
    # A fresh machine and CI run PostgreSQL with max_connections = 100 (3 reserved).
    assert serving.check_connections(100, 3) is None
    assert serving.budget() + serving.RESERVED_CONNECTIONS <= 97
    assert "Refusing to start" in serving.check_connections(40, 3)
