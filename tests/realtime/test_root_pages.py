"""Every URL a person types answers: ``GET /`` by port (Host header, behind a proxy and
directly under daphne) and a friendly 404 page for a checkout link naming no known order."""

from __future__ import annotations

import http.client

import pytest
from django.test import Client

from tests.support.processes import daphne_server, free_port

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


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_root_by_port_directly_under_daphne(django_db_blocker):
    """A real daphne told that its own (ephemeral) port is the dashboard's, then the checkout's."""
    for role, expected in (("DASHBOARD_PORTS", 302), ("CHECKOUT_PORTS", 200)):
        port = free_port()
        with django_db_blocker.unblock(), daphne_server(port=port, env={role: str(port)}):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/", headers={"Accept": BROWSER_ACCEPT})
            response = conn.getresponse()
            body = response.read().decode()
            conn.close()
        assert response.status == expected
        if expected == 302:
            assert response.getheader("Location") == "/dashboard/"
        else:
            assert 'data-test-id="checkout-root"' in body
    port = free_port()
    with django_db_blocker.unblock(), daphne_server(port=port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200 and b'"/api/docs"' in response.read()
        conn.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("order_id=order_doesnotexist00", "invalid or has expired"),
        ("order_id=", "names no order"),
        ("", "names no order"),
        ("order_id=%00", "invalid or has expired"),
        ("order_id=order_%ED%A0%80", "invalid or has expired"),
        ("order_id=" + "x" * 5000, "invalid or has expired"),
    ],
)
def test_unknown_order_gets_a_friendly_404_page(db, query, message):
    response = Client(raise_request_exception=False).get(f"/checkout?{query}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Order not found</h1>" in page and message in page and "Nothing has been charged" in page


def test_checkout_key_and_status_survive_nul_bytes(alice):
    from tests.realtime.helpers import make_payment

    payment = make_payment(merchant=alice.merchant)
    client = Client(raise_request_exception=False)
    assert client.get(f"/checkout?order_id={payment.order_id}&key=%00").status_code == 404
    assert client.get("/checkout/payments/pay_%00").status_code == 404
