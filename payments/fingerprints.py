"""Keyed fingerprints of saved payment methods.

HMAC-SHA256 under ``PAYMENT_METHOD_FINGERPRINT_KEY`` (derived from ``SECRET_KEY`` when not
set) of the merchant and the card number or VPA. It lets the same card be recognised
(saved twice, or paid with again) without keeping it: without the key a stolen table gives
nothing to brute-force against the ~10^9 card numbers of one BIN, and the merchant in the
message keeps one merchant's fingerprints from matching another's. Rotating the key only
means new fingerprints no longer match old ones.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from functools import cache

from django.conf import settings


@cache
def _key(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    return hmac.new(secret_key.encode(), b"tender.payment-method-fingerprint", hashlib.sha256).digest()


def payment_method_fingerprint(*, merchant_id: uuid.UUID, kind: str, value: str) -> str:
    """Hex fingerprint of a card number (``kind="card"``, digits only) or a VPA (lower-cased)."""
    key = _key(settings.PAYMENT_METHOD_FINGERPRINT_KEY, settings.SECRET_KEY)
    message = f"{merchant_id}:{kind}:{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
