"""Webhook bodies and signatures.

The body is compact JSON exactly as signed and sent: no spaces, UTF-8 not escaped, no
floats (money is integer minor units; a float in a snapshot is a bug we refuse to sign).

Two signatures travel on every request:

* ``X-Webhook-Signature``: hex HMAC-SHA256 of the body, keyed with the endpoint secret's
  UTF-8 bytes exactly as shown to the merchant (the seed gateway's scheme).
* Standard Webhooks: ``webhook-id`` (the event id, stable across retries),
  ``webhook-timestamp`` (this attempt) and ``webhook-signature`` = ``v1,<base64 HMAC-SHA256
  of "id.timestamp.body">``, one entry per active secret (two during a rotation), signed with
  the public ``standardwebhooks`` library.

Secret to key mapping for Standard Webhooks: secrets we generate are ``whsec_`` + base64 of
24 random bytes, and the key is the decoded bytes, so ``Webhook("whsec_…")`` in the
``standardwebhooks``/``svix`` libraries verifies as-is. A secret whose part after ``whsec_``
is not strict base64 (the seeded demo secret ``whsec_test_abc123``) is used as its raw UTF-8
bytes: receivers verify with ``Webhook("whsec_test_abc123".encode())``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SIGNATURE_HEADER = "X-Webhook-Signature"


def secret_generate() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 24 random bytes (192 bits)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key of ``secret`` (see the module docstring)."""
    if secret.startswith(SECRET_PREFIX):
        try:
            decoded = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) >= 16:
            return decoded
    return secret.encode("utf-8")


def _refuse_floats(value: Any, path: str = "$") -> None:
    if isinstance(value, float):
        raise TypeError(f"float at {path}: webhook bodies carry integers only")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{path}[{index}]")


class _FloatFound(Exception):
    pass


def _float_found(_text: str) -> None:
    raise _FloatFound


# Made once: json.dumps/loads with options build a new encoder/decoder per call.
_BODY_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_FLOAT_FINDER = json.JSONDecoder(parse_float=_float_found, parse_constant=_float_found)


def body_encode(payload: dict[str, Any], *, floats_checked: bool = False) -> bytes:
    """Compact, UTF-8, float-free JSON: the exact bytes that are signed and sent.
    ``floats_checked``: the payload's data came from :func:`data_decode`, which refused
    floats already (the rest of a payload is strings and an integer)."""
    text = _BODY_ENCODER.encode(payload)
    if floats_checked:
        return text.encode("utf-8")
    # A float is the only value that reads back through parse_float or parse_constant (NaN,
    # Infinity): json's C parser checks a body several times faster than walking it in
    # Python, and the walk runs only to name the float's path.
    try:
        _FLOAT_FINDER.decode(text)
    except _FloatFound:
        _refuse_floats(payload)
        raise TypeError("a float in the body: webhook bodies carry integers only") from None
    return text.encode("utf-8")


def data_decode(text: str) -> dict[str, Any]:
    """An event's data from its stored JSON text, a float refused as :func:`body_encode`
    refuses it: one decode that also checks, for a reader that selects the text itself."""
    try:
        return _FLOAT_FINDER.decode(text)
    except _FloatFound:
        raise TypeError("a float in an event's data: webhook bodies carry integers only") from None


def payload_build(
    *,
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    created_at: datetime | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """The payload of an event. ``timestamp`` (whole epoch seconds of ``created_at``) may
    stand in for ``created_at``, for a reader that selected it as an integer."""
    when = int(created_at.timestamp()) if timestamp is None else timestamp
    return {"id": event_id, "event": event_type, "timestamp": when, "data": data}


def hex_signature(*, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_headers(*, webhook_id: str, timestamp: int, body: bytes, secrets_active: list[str]) -> dict[str, str]:
    """All signature headers for one attempt. ``secrets_active[0]`` is the current secret;
    any others (a rotation's previous secret) add a ``webhook-signature`` entry."""
    text = body.decode("utf-8")
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    entries = [Webhook(standard_key(s)).sign(msg_id=webhook_id, timestamp=when, data=text) for s in secrets_active]
    return {
        SIGNATURE_HEADER: hex_signature(secret=secrets_active[0], body=body),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(entries),
    }


def hex_signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(hex_signature(secret=secret, body=body), signature or "")
