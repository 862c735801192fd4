"""A merchant controls its endpoint's name server. One that never answers must cost a lookup's
deadline (WEBHOOK_DNS_TIMEOUT), not the system resolver's 5-30 s, at registration and before
every attempt: the lookup is abandoned at the deadline and the thread goes on."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from payments.outbox import outbox_dispatch_all
from tests.webhooks.conftest import payment_make
from webhooks import transport
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services.delivery import endpoint_drain

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"


@dataclass
class NameServer:
    answers: dict[str, str] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)


@pytest.fixture
def name_server(monkeypatch, settings):
    """DNS is outside the system: names in ``answers`` resolve, names in ``silent`` get no answer
    until the test ends (a black-holed authoritative server), everything else as usual."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOK_DNS_TIMEOUT = 0.3
    server = NameServer()
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in server.silent:
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host in server.answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (server.answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield server
    release.set()  # the abandoned lookups end now


def test_registration_with_a_silent_name_server_is_a_clear_400(alice, name_server):
    name_server.silent.add("silent.merchant.test")
    started = time.monotonic()
    response = alice.client.post(
        "/api/v1/webhook-endpoints", {"url": "https://silent.merchant.test/hooks"}, format="json"
    )
    waited = time.monotonic() - started
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", "url", "dns_timeout")
    assert waited < 5  # the lookup's deadline (0.3 s), not the resolver's


def test_an_attempt_whose_lookup_hangs_fails_as_a_timeout_and_is_retried(alice, name_server):
    name_server.answers["flaky.merchant.test"] = PUBLIC_IP
    created = alice.client.post(
        "/api/v1/webhook-endpoints", {"url": "https://flaky.merchant.test/hooks"}, format="json"
    )
    assert created.status_code == 201
    name_server.answers.pop("flaky.merchant.test")
    name_server.silent.add("flaky.merchant.test")  # the name server goes silent after registration
    payment_make(alice.merchant)
    outbox_dispatch_all()
    endpoint_drain(endpoint_id=created.json()["id"])
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error_class) == (None, "timeout")
    assert "did not resolve within 0.3 s" in attempt.error
    assert attempt.latency_ms < 5000
    assert WebhookDelivery.objects.get().status == "pending"  # retried later, like any timeout


def test_a_flood_of_hanging_lookups_stays_in_the_bounded_resolver_pool(name_server):
    """Three times as many silent lookups as resolver threads: each caller still stops at its
    own deadline, and no extra threads are spawned for them."""
    name_server.silent.add("silent.merchant.test")
    callers = 3 * transport._RESOLVER_THREADS
    results = []

    def attempt() -> None:
        results.append(transport.post(url="https://silent.merchant.test/hooks", body=b"{}", headers={}))

    threads = [threading.Thread(target=attempt) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == callers
    assert {result.error_class for result in results} == {"timeout"}
    assert len([t for t in threading.enumerate() if t.name.startswith("dns")]) <= transport._RESOLVER_THREADS
