"""Public identifiers: a prefix plus 16 random alphanumerics (62^16 ≈ 4.7e28 values),
unguessable enough to serve as the capability for the public checkout endpoints."""

from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 16


def new_public_id(prefix: str, length: int = ID_LENGTH) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_public_id(value: object, prefix: str) -> bool:
    return isinstance(value, str) and re.fullmatch(rf"{prefix}_[A-Za-z0-9]{{{ID_LENGTH}}}", value) is not None


def new_order_id() -> str:
    return new_public_id("order")


def new_payment_id() -> str:
    return new_public_id("pay")


def new_refund_id() -> str:
    return new_public_id("rfnd")


def new_event_id() -> str:
    return new_public_id("evt", 24)
