"""SSRF guard: every non-global target form is refused at registration (clear 400, stable
reason) and blocked at delivery when DNS changes after registration. These tests turn
WEBHOOK_ALLOW_PRIVATE_TARGETS off explicitly (test mode turns it on for loopback receivers)."""

from __future__ import annotations

import socket

import pytest

from payments.outbox import outbox_dispatch_all
from tests.webhooks.conftest import payment_make
from tests.webhooks.receiver import running_receiver
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.delivery import endpoint_drain

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.fixture
def fake_dns(monkeypatch):
    """DNS is outside the system: answer chosen names from a table, the rest as usual."""
    table: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            address = table[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "forbidden_address"),
        ("http://localhost:8000/hook", "forbidden_address"),
        ("http://[::1]/hook", "forbidden_address"),
        ("http://10.0.0.5/hook", "forbidden_address"),
        ("http://172.16.3.4/hook", "forbidden_address"),
        ("http://192.168.1.10/hook", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data/", "forbidden_address"),
        ("http://169.254.10.1/hook", "forbidden_address"),
        ("http://100.64.0.1/hook", "forbidden_address"),
        ("http://100.127.255.254/hook", "forbidden_address"),
        ("http://0.0.0.0/hook", "forbidden_address"),
        ("http://[::ffff:127.0.0.1]/hook", "forbidden_address"),
        ("http://[::ffff:169.254.169.254]/hook", "forbidden_address"),
        ("http://[fd00::1]/hook", "forbidden_address"),
        ("http://[fe80::1]/hook", "forbidden_address"),
        ("http://2130706433/hook", "non_canonical_ip"),
        ("http://0x7f000001/hook", "non_canonical_ip"),
        ("http://0x7f.0.0.1/hook", "non_canonical_ip"),
        ("http://0177.0.0.1/hook", "non_canonical_ip"),
        ("http://127.1/hook", "non_canonical_ip"),
        ("http://017700000001/hook", "non_canonical_ip"),
        ("http://2852039166/latest/meta-data/", "non_canonical_ip"),
        ("http://metadata.test/hook", "forbidden_address"),
        ("http://does-not-exist.invalid/hook", "unresolvable_host"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("gopher://127.0.0.1/", "unsupported_scheme"),
    ],
)
def test_registration_refuses_every_non_global_form(alice, strict, fake_dns, url, reason):
    fake_dns["metadata.test"] = "169.254.169.254"
    response = alice.client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", "url", reason)
    assert error["description"]
    assert WebhookEndpoint.objects.count() == 0


def test_a_name_resolving_to_public_and_private_is_refused(alice, strict, monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    response = alice.client.post("/api/v1/webhook-endpoints", {"url": "https://mixed.test/x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["reason"] == "forbidden_address"


def test_public_name_is_accepted(alice, strict, fake_dns):
    fake_dns["hooks.merchant.test"] = PUBLIC_IP
    response = alice.client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.merchant.test/x"}, format="json")
    assert response.status_code == 201


def test_delivery_is_blocked_when_dns_changes_after_registration(alice, strict, fake_dns):
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        fake_dns["rebind.merchant.test"] = PUBLIC_IP
        response = alice.client.post(
            "/api/v1/webhook-endpoints", {"url": f"http://rebind.merchant.test:{port}/hooks"}, format="json"
        )
        assert response.status_code == 201
        fake_dns["rebind.merchant.test"] = "127.0.0.1"  # the attacker's DNS now points home
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=response.json()["id"])
        assert receiver.count() == 0  # nothing reached the loopback listener
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error_class) == (None, "forbidden_address")
    assert "127.0.0.1" in attempt.error
    assert WebhookDelivery.objects.get().status == "pending"  # retried later, blocked again


def test_delivery_blocks_metadata_even_when_private_targets_are_allowed(alice, settings, fake_dns):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    fake_dns["meta.merchant.test"] = PUBLIC_IP
    created = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://meta.merchant.test/x"}, format="json")
    assert created.status_code == 201
    fake_dns["meta.merchant.test"] = "169.254.169.254"
    payment_make(alice.merchant)
    outbox_dispatch_all()
    endpoint_drain(endpoint_id=created.json()["id"])
    assert WebhookAttempt.objects.get().error_class == "forbidden_address"


def test_private_targets_allowed_only_by_the_setting(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    ok = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://10.0.0.5/x"}, format="json")
    assert ok.status_code == 201
    meta = alice.client.post("/api/v1/webhook-endpoints", {"url": "http://169.254.169.254/x"}, format="json")
    assert meta.status_code == 400 and meta.json()["error"]["reason"] == "forbidden_address"
