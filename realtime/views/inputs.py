"""Parsing of the dashboard's form and query values (amounts in major units, local dates)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from common.errors import InvalidInput
from payments.money import CURRENCY_EXPONENTS

AMOUNT_FORMAT = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # plain digits, one optional decimal point
DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def amount_from_major(text: object, currency: str, *, field: str = "amount") -> int:
    """``"12.50"`` INR → 1250 minor units; InvalidInput for anything that is not a positive
    amount in plain digits with at most the currency's decimals."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    example = "1250" if not exponent else "12." + "5" * exponent
    invalid = InvalidInput(f"Enter an amount like {example}", field=field, reason="invalid_amount")
    raw = str(text or "").strip().replace(",", "")
    match = AMOUNT_FORMAT.fullmatch(raw) if len(raw) <= 20 else None
    if match is None or len(match.group(2) or "") > exponent:
        raise invalid
    value = Decimal(raw)
    if value <= 0:
        raise invalid
    return int(value.scaleb(exponent))


def local_day_start(text: str, zone: ZoneInfo, *, field: str, next_day: bool = False) -> datetime:
    """The first instant of the calendar day ``YYYY-MM-DD`` in ``zone`` (of the day after,
    with ``next_day``: an inclusive "to" date becomes an exclusive bound)."""
    invalid = InvalidInput(f"{field} must be a date like 2026-12-01", field=field, reason="invalid_date")
    if not DATE_FORMAT.fullmatch(text):
        raise invalid
    try:
        day = date.fromisoformat(text)
        if next_day:
            day += timedelta(days=1)
    except (ValueError, OverflowError) as exc:
        raise invalid from exc
    return datetime.combine(day, time.min, tzinfo=zone)
