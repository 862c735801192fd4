"""Every URL a person types answers: ``GET /`` by port (the Host header's, through
``make run``'s front and on each backend) and a friendly 404 page for a checkout link
naming no known order."""

from __future__ import annotations

import asyncio
import http.client
import json
from urllib.parse import urlsplit

import pytest
import websockets
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client

from tests.realtime.helpers import make_payment, settle
from tests.support.processes import serving_layout

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("host", ["localhost:3000", "127.0.0.1:3000", "[::1]:3000"])
def test_root_on_3000_leads_to_the_dashboard_login(db, host):
    client = Client()
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    login = client.get("/dashboard/", HTTP_HOST=host)
    assert login.status_code == 302 and login["Location"] == "/login?next=/dashboard/"
    assert client.get("/login", HTTP_HOST=host).status_code == 200


def test_root_on_3001_says_it_serves_the_checkout(db):
    response = Client().get("/", HTTP_HOST="localhost:3001", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-test-id="checkout-root"' in page
    assert "hosted checkout" in page and "/checkout?order_id=order_" in page and 'href="/checkout.js"' in page


def test_root_on_8000_is_a_json_index_for_curl(db):
    response = Client().get("/", HTTP_HOST="localhost:8000", HTTP_ACCEPT="*/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    links = response.json()["links"]
    assert (links["docs"], links["health"], links["dashboard"]) == ("/api/docs", "/health", "/dashboard/")
    client = Client()
    assert client.get(links["docs"]).status_code == 200
    assert client.get(links["health"]).status_code in (200, 503)  # answers either way


def test_root_on_8000_is_an_html_index_for_browsers(db):
    response = Client().get("/", HTTP_HOST="localhost:8000", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for href in ('href="/api/docs"', 'href="/health"', 'href="/dashboard/"'):
        assert href in page


def test_host_without_port_falls_back_to_the_server_port(db):
    response = Client().get("/", HTTP_HOST="localhost", SERVER_PORT="3000")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_host_header_wins_over_the_socket_port_behind_a_proxy(db):
    # A proxy on :3001 preserving Host forwards to an app server on another port.
    response = Client().get("/", HTTP_HOST="localhost:3001", SERVER_PORT="8081", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert 'data-test-id="checkout-root"' in response.content.decode()


def test_root_refuses_writes_and_unknown_hosts(db):
    client = Client(raise_request_exception=False)
    assert client.post("/", HTTP_HOST="localhost:8000").status_code == 405
    assert client.get("/", HTTP_HOST="evil.example:3000").status_code == 400


def _get(base: str, path: str, host: str | None = None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request("GET", path, headers={"Accept": BROWSER_ACCEPT, **({"Host": host} if host else {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_root_by_port_behind_the_front_and_on_each_backend(alice, tmp_path, redis_client):
    """``make run``'s layout (nginx in front of gunicorn and daphne, config/serving.py): the
    front keeps ``Host: host:port``, so a request for :3000 / :3001 / :8000 gets its page on
    every serving path; and a websockets client with no Origin gets a payment's pushes
    through the front."""
    payment = make_payment(merchant=alice.merchant)
    with serving_layout(run_dir=tmp_path) as urls:
        for path, base in urls.items():
            status, headers, _ = _get(base, "/", host="localhost:3000")
            assert (status, headers.get("Location")) == (302, "/dashboard/"), path
            status, _, page = _get(base, "/", host="localhost:3001")
            assert status == 200 and 'data-test-id="checkout-root"' in page, path
            status, _, page = _get(base, "/", host="localhost:8000")
            assert status == 200 and 'href="/api/docs"' in page, path
        status, _, page = _get(urls["front"], "/")  # the front's own (ephemeral) port: the index
        assert status == 200 and 'data-test-id="api-root"' in page

        async def no_origin_client():
            url = urls["front"].replace("http://", "ws://") + f"/ws/payments/{payment.id}"
            async with websockets.connect(url, open_timeout=10) as ws:  # sends no Origin header
                snapshot = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                assert snapshot["event"] == "snapshot"
                await asyncio.to_thread(_settle_and_close, payment)
                pushed = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                assert (pushed["event"], pushed["payment"]["status"]) == ("payment.success", "success")

        async_to_sync(no_origin_client)()


def _settle_and_close(payment) -> None:
    try:
        settle(payment, "success")
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("order_id=order_doesnotexist00", "invalid or has expired"),
        ("order_id=", "names no order"),
        ("", "names no order"),
        pytest.param("order_id=" + "x" * 5000, "invalid or has expired", id="5000-char-id"),
    ],
)
def test_unknown_order_gets_a_friendly_404_page(db, query, message):
    response = Client(raise_request_exception=False).get(f"/checkout?{query}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Order not found</h1>" in page and message in page and "Nothing has been charged" in page


def test_checkout_key_and_status_never_reach_the_database_with_nul_bytes(alice):
    """The input layer refuses NUL in a path or query (400) before any view; the checkout's
    own id checks keep a malformed id from reaching PostgreSQL even without it."""
    from realtime.selectors import order_for_checkout

    payment = make_payment(merchant=alice.merchant)
    client = Client(raise_request_exception=False)
    for url in (
        f"/checkout?order_id={payment.order_id}&key=%00",
        "/checkout?order_id=%00",
        "/checkout/payments/pay_%00",
    ):
        response = client.get(url)
        assert response.status_code == 400 and response.json()["error"]["reason"] == "nul_byte", url
    assert order_for_checkout(order_id="order_\x00") is None
