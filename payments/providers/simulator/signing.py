"""Signatures of simulator notifications: ``X-Simulator-Signature: t=<unix>,v1=<hex>``,
HMAC-SHA256 over ``"<t>.<body>"`` with PROVIDER_WEBHOOK_SECRET; 5 minutes tolerance.

The secret is the provider's own, never derived from SECRET_KEY: whoever holds it can
report any payment as paid. Outside demo mode it must be set (servers refuse to start
without it, and this module refuses to sign or verify); demo mode uses the documented
``DEMO_PROVIDER_WEBHOOK_SECRET`` so a demo needs no setup."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.providers.base import InvalidSignature

HEADER = "X-Simulator-Signature"
TOLERANCE_SECONDS = 300
DEMO_PROVIDER_WEBHOOK_SECRET = "demo-provider-webhook-secret"  # noqa: S105 - demo mode only


def webhook_secret() -> bytes:
    if settings.PROVIDER_WEBHOOK_SECRET:
        return settings.PROVIDER_WEBHOOK_SECRET.encode()
    if settings.DEMO_MODE:
        return DEMO_PROVIDER_WEBHOOK_SECRET.encode()
    raise ImproperlyConfigured("PROVIDER_WEBHOOK_SECRET must be set outside demo mode (docs/security.md).")


def sign(body: bytes, *, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(webhook_secret(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def verify(headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
    header = headers.get(HEADER) or ""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise InvalidSignature("missing or malformed signature header") from None
    if abs((now or time.time()) - ts) > TOLERANCE_SECONDS:
        raise InvalidSignature("signature timestamp outside tolerance")
    expected = hmac.new(webhook_secret(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise InvalidSignature("signature mismatch")
