"""SSRF: IPv6 addresses that embed an IPv4 address (NAT64, 6to4, Teredo, ISATAP,
IPv4-mapped/-compatible/-translated) are judged by that IPv4 address, at registration and at
delivery time (a name whose DNS answer turns into such an address later)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from payments.outbox import outbox_dispatch_all
from tests.webhooks.conftest import payment_make
from tests.webhooks.receiver import running_receiver
from webhooks.models import WebhookAttempt, WebhookEndpoint
from webhooks.services.delivery import endpoint_drain
from webhooks.ssrf import address_allowed, embedded_ipv4

pytestmark = pytest.mark.django_db


def teredo(client: str, server: str = "65.54.227.120") -> str:
    """A Teredo address (RFC 4380): server IPv4, flags, obfuscated port, obfuscated client."""
    obfuscated = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0xFFFF << 32) | obfuscated
    return str(ipaddress.IPv6Address(value))


def nat64_local(ipv4: str) -> str:
    """64:ff9b:1::/48 with the RFC 6052 /48 layout (octets 1-2, the zero u octet, 3-4)."""
    v4 = int(ipaddress.IPv4Address(ipv4))
    value = (0x0064FF9B0001 << 80) | ((v4 >> 16) << 64) | ((v4 & 0xFFFF) << 40)
    return str(ipaddress.IPv6Address(value))


def forms(ipv4: str) -> dict[str, str]:
    """Every IPv6 form of ``ipv4`` the guard must see through."""
    h = ipaddress.IPv4Address(ipv4).packed.hex()
    hi, lo = h[:4], h[4:]
    return {
        "nat64": f"64:ff9b::{hi}:{lo}",
        "nat64_local": nat64_local(ipv4),
        "6to4": f"2002:{hi}:{lo}::1",
        "teredo": teredo(ipv4),
        "isatap": f"2a00:1450:4001:81b:0:5efe:{hi}:{lo}",
        "isatap_universal": f"2a00:1450:4001:81b:200:5efe:{hi}:{lo}",
        "mapped": f"::ffff:{ipv4}",
        "translated": f"::ffff:0:{hi}:{lo}",
        "compatible": f"::{hi}:{lo}",
    }


FORBIDDEN_V4 = ["127.0.0.1", "10.1.2.3", "192.168.1.10", "169.254.169.254", "100.64.0.1", "0.0.0.0"]


@pytest.mark.parametrize("form", list(forms("8.8.8.8")))
def test_each_form_is_decoded_to_its_ipv4(form):
    for ipv4 in ["127.0.0.1", "169.254.169.254", "8.8.8.8", "203.0.113.9"]:
        assert embedded_ipv4(ipaddress.IPv6Address(forms(ipv4)[form])) == ipaddress.IPv4Address(ipv4)


@pytest.mark.parametrize("form", list(forms("8.8.8.8")))
@pytest.mark.parametrize("ipv4", FORBIDDEN_V4)
def test_an_embedded_non_public_ipv4_is_refused(form, ipv4):
    assert address_allowed(forms(ipv4)[form], allow_private=False) is False


@pytest.mark.parametrize("form", list(forms("8.8.8.8")))
def test_an_embedded_public_ipv4_is_allowed(form):
    assert address_allowed(forms("8.8.8.8")[form], allow_private=False) is True


@pytest.mark.parametrize("form", list(forms("8.8.8.8")))
def test_metadata_stays_refused_even_when_private_targets_are_allowed(form):
    assert address_allowed(forms("169.254.169.254")[form], allow_private=True) is False
    assert address_allowed(forms("10.1.2.3")[form], allow_private=True) is True  # judged as 10.1.2.3


def test_plain_ipv6_is_judged_as_itself():
    assert address_allowed("::1", allow_private=False) is False
    assert address_allowed("::", allow_private=True) is False
    assert address_allowed("2a00:1450:4001:81b::200e", allow_private=False) is True
    assert embedded_ipv4(ipaddress.IPv6Address("2a00:1450:4001:81b::200e")) is None


@pytest.mark.parametrize("form", ["nat64", "nat64_local", "6to4", "teredo", "translated", "compatible"])
def test_registration_refuses_a_literal_embedding_loopback(alice, settings, form):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    url = f"http://[{forms('127.0.0.1')[form]}]:8000/hook"
    response = alice.client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["reason"] == "forbidden_address"
    assert WebhookEndpoint.objects.count() == 0


def test_delivery_is_blocked_when_dns_turns_into_nat64_of_loopback(alice, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    answer = {"address": "93.184.216.34"}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # DNS is outside the system
        if host == "rebind64.merchant.test":
            family = socket.AF_INET6 if ":" in answer["address"] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answer["address"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with running_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        created = alice.client.post(
            "/api/v1/webhook-endpoints", {"url": f"http://rebind64.merchant.test:{port}/hooks"}, format="json"
        )
        assert created.status_code == 201
        answer["address"] = forms("127.0.0.1")["nat64"]  # an AAAA through the resolver's NAT64
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=created.json()["id"])
        assert receiver.count() == 0
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error_class) == (None, "forbidden_address")
