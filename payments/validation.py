"""Synchronous input validation for orders, payments and refunds.

Plain Python on purpose: it runs on the payment-create hot path, raises :class:`DomainError`
with the exact envelope code (``INVALID_CARD``, ``EXPIRED_CARD``, ``INVALID_VPA``,
``BAD_REQUEST_ERROR``) and field, and never puts a card number or CVV into an error text,
a log line or anything that outlives the request. :class:`CardDetails` keeps the number
only in memory; services store ``network`` and ``last4`` alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from common.errors import EXPIRED_CARD, INVALID_CARD, INVALID_VPA, InvalidInput
from payments.models import MIN_ORDER_AMOUNT, CardNetwork, PaymentMethod
from payments.money import DEFAULT_CURRENCY, is_currency

MAX_AMOUNT = 10**12  # minor units; far above any real ticket, far below BIGINT
MAX_RECEIPT_LENGTH = 64
MAX_NOTES_KEYS = 15
MAX_NOTE_VALUE_LENGTH = 256
MAX_REASON_LENGTH = 255
MAX_HOLDER_NAME_LENGTH = 100
VPA_RE = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")
MAX_VPA_LENGTH = 255
_SEPARATORS = re.compile(r"[ -]")
_METHODS = frozenset(PaymentMethod.values)  # the enum's .values builds a list on every call


@dataclass(frozen=True)
class CardDetails:
    """A validated card. ``number`` and ``cvv`` exist only for the life of the request and
    are excluded from ``repr`` so an accidental log line cannot leak them."""

    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int
    cvv: str = field(repr=False)
    holder_name: str | None
    network: str

    @property
    def last4(self) -> str:
        return self.number[-4:]


def validate_amount(value: Any, *, field_name: str = "amount", minimum: int = MIN_ORDER_AMOUNT) -> int:
    if value is None:
        raise InvalidInput(f"{field_name} is required", field=field_name, reason="required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field_name} must be an integer in minor units", field=field_name, reason="invalid_type")
    if value < minimum:
        raise InvalidInput(f"{field_name} must be at least {minimum}", field=field_name, reason="amount_too_small")
    if value > MAX_AMOUNT:
        raise InvalidInput(f"{field_name} must be at most {MAX_AMOUNT}", field=field_name, reason="amount_too_large")
    return value


def validate_currency(value: Any) -> str:
    if value is None:
        return DEFAULT_CURRENCY
    if not is_currency(value):
        raise InvalidInput("currency must be an ISO 4217 code such as INR", field="currency", reason="invalid_currency")
    return value


def validate_receipt(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("receipt must be a string", field="receipt", reason="invalid_type")
    if len(value) > MAX_RECEIPT_LENGTH:
        raise InvalidInput(
            f"receipt must be at most {MAX_RECEIPT_LENGTH} characters", field="receipt", reason="too_long"
        )
    return value


def validate_notes(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("notes must be an object of strings", field="notes", reason="invalid_type")
    if len(value) > MAX_NOTES_KEYS:
        raise InvalidInput(f"notes may hold at most {MAX_NOTES_KEYS} keys", field="notes", reason="too_many_notes")
    for key, note in value.items():
        if not isinstance(note, str | int) or isinstance(note, bool) or len(str(note)) > MAX_NOTE_VALUE_LENGTH:
            raise InvalidInput(
                f"notes values must be strings of at most {MAX_NOTE_VALUE_LENGTH} characters",
                field=f"notes.{key}"[:64],
                reason="invalid_note",
            )
    return {str(k): str(v) for k, v in value.items()}


def validate_method(value: Any) -> str:
    if value is None:
        raise InvalidInput("method is required", field="method", reason="required")
    if not isinstance(value, str) or value not in _METHODS:
        raise InvalidInput("method must be one of: upi, card", field="method", reason="invalid_method")
    return value


def validate_vpa(value: Any) -> str:
    if value is None:
        raise InvalidInput("vpa is required for method upi", field="vpa", reason="required")
    if not isinstance(value, str):
        raise InvalidInput("vpa must be a string", field="vpa", reason="invalid_type")
    # fullmatch: with match(), "$" also matches before a trailing newline ("a@bank\n").
    if len(value) > MAX_VPA_LENGTH or not VPA_RE.fullmatch(value):
        raise InvalidInput(
            "vpa is not a valid UPI address (name@bank)", code=INVALID_VPA, field="vpa", reason="invalid_vpa"
        )
    return value


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_network(digits: str) -> str:
    """Network from the leading digits (IIN ranges as the seed gateway classifies them)."""
    if digits.startswith("4"):
        return CardNetwork.VISA
    two = int(digits[:2])
    if 51 <= two <= 55:
        return CardNetwork.MASTERCARD
    if two in (34, 37):
        return CardNetwork.AMEX
    if two in (60, 65) or 81 <= two <= 89:
        return CardNetwork.RUPAY
    return CardNetwork.UNKNOWN


def _expiry_part(value: Any, name: str, *, reason: str, message: str) -> tuple[int, int]:
    """An expiry month/year sent as a JSON integer or a digit string (the seed API sent
    strings): its value and its number of digits. A well-typed but impossible value (more
    than 4 digits, negative) is ``INVALID_CARD`` like any other bad expiry."""
    if value is None:
        raise InvalidInput(f"{name} is required", field=name, reason="required")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value
    elif isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
    else:
        raise InvalidInput(f"{name} must be a number", field=name, reason="invalid_type")
    if not digits.isdigit() or len(digits) > 4:
        raise InvalidInput(message, code=INVALID_CARD, field=name, reason=reason)
    return int(digits), len(digits)


def _required_str(value: Any, name: str) -> str:
    if value is None:
        raise InvalidInput(f"{name} is required", field=name, reason="required")
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name, reason="invalid_type")
    return value


def validate_card(value: Any, *, now: datetime) -> CardDetails:
    """Validate a card object; ``now`` decides expiry (valid through its expiry month)."""
    if value is None:
        raise InvalidInput("card is required for method card", field="card", reason="required")
    if not isinstance(value, dict):
        raise InvalidInput("card must be an object", field="card", reason="invalid_type")
    number = _required_str(value.get("number"), "card.number")
    digits = _SEPARATORS.sub("", number)
    if not (digits.isascii() and digits.isdigit()) or not 13 <= len(digits) <= 19:
        raise InvalidInput(
            "card number must be 13-19 digits", code=INVALID_CARD, field="card.number", reason="invalid_number"
        )
    if not luhn_valid(digits):
        raise InvalidInput("card number is invalid", code=INVALID_CARD, field="card.number", reason="luhn_check_failed")
    month_message = "card expiry_month must be 1-12"
    month, _ = _expiry_part(
        value.get("expiry_month"), "card.expiry_month", reason="invalid_expiry_month", message=month_message
    )
    if not 1 <= month <= 12:
        raise InvalidInput(month_message, code=INVALID_CARD, field="card.expiry_month", reason="invalid_expiry_month")
    year_message = "card expiry_year must have 2 or 4 digits"
    year, year_digits = _expiry_part(
        value.get("expiry_year"), "card.expiry_year", reason="invalid_expiry_year", message=year_message
    )
    if year_digits == 2:
        year += 2000
    elif year_digits != 4:
        raise InvalidInput(year_message, code=INVALID_CARD, field="card.expiry_year", reason="invalid_expiry_year")
    if (year, month) < (now.year, now.month):
        raise InvalidInput("card has expired", code=EXPIRED_CARD, field="card.expiry_year", reason="card_expired")
    cvv = _required_str(value.get("cvv"), "card.cvv")
    if not (cvv.isascii() and cvv.isdigit() and 3 <= len(cvv) <= 4):
        raise InvalidInput("card cvv must be 3 or 4 digits", code=INVALID_CARD, field="card.cvv", reason="invalid_cvv")
    holder = value.get("holder_name")
    if holder is not None and (not isinstance(holder, str) or len(holder) > MAX_HOLDER_NAME_LENGTH):
        raise InvalidInput(
            f"card.holder_name must be a string of at most {MAX_HOLDER_NAME_LENGTH} characters",
            field="card.holder_name",
            reason="invalid_type",
        )
    return CardDetails(
        number=digits,
        expiry_month=month,
        expiry_year=year,
        cvv=cvv,
        holder_name=holder,
        network=card_network(digits),
    )


def validate_callback_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise InvalidInput("callback_url must be a URL string", field="callback_url", reason="invalid_type")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("callback_url must be an http(s) URL", field="callback_url", reason="invalid_url")
    return value


def validate_reason(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"reason must be a string of at most {MAX_REASON_LENGTH} characters", field="reason", reason="invalid_type"
        )
    return value
