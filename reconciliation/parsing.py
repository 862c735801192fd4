"""The settlement file format and its validation.

A settlement file is UTF-8 CSV with this exact header::

    provider_reference,payment_id,order_id,amount,currency,status,settled_at,fee

``amount`` and ``fee`` are integers in minor units, ``currency`` is ISO 4217 (3 capital
letters), ``status`` is ``success`` or ``failed``, ``settled_at`` is ISO-8601 (empty for a
failed line; a naive time is read as UTC). ``payment_id``/``order_id`` may be empty on a
line the provider cannot attribute. A header with no lines is a valid, quiet period.

Parsing streams: rows are validated one by one and handed to the loader (COPY), so a
1,000,000-line file never sits in memory as Python objects. Any bad row raises
:class:`SettlementFileError` naming the line; the caller's transaction then rolls back.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NoReturn

COLUMNS = ("provider_reference", "payment_id", "order_id", "amount", "currency", "status", "settled_at", "fee")
STATUSES = frozenset({"success", "failed"})
MAX_MINOR_UNITS = 2**63 - 1

_ID = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_OPTIONAL_ID = re.compile(r"[A-Za-z0-9_.:/-]{0,64}")
_INTEGER = re.compile(r"[0-9]{1,19}")
_CURRENCY = re.compile(r"[A-Z]{3}")

Row = tuple[int, str, str, str, int, str, str, datetime | None, int]


class SettlementFileError(Exception):
    """A settlement file that cannot be imported. ``reason`` is a stable code."""

    def __init__(self, message: str, *, reason: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.line = line


def settlement_file_check(data: bytes) -> None:
    """Whole-file checks done before anything is written: empty, encoding, header."""
    if not data or not data.strip():
        raise SettlementFileError("the settlement file is empty", reason="empty_file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SettlementFileError(
            f"the settlement file is not UTF-8: invalid byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line})",
            reason="bad_encoding",
            line=line,
        ) from None
    first = data.split(b"\n", 1)[0].decode("utf-8").lstrip("\ufeff").strip()
    header = tuple(next(csv.reader([first]), []))
    if tuple(h.strip() for h in header) != COLUMNS:
        raise SettlementFileError(
            f"wrong columns: expected {','.join(COLUMNS)}; got {','.join(header) or '(nothing)'}",
            reason="wrong_columns",
            line=1,
        )


def settlement_rows(data: bytes) -> Iterator[Row]:
    """Yield ``(line_no, provider_reference, payment_id, order_id, amount, currency, status,
    settled_at, fee)`` for every data line; raise :class:`SettlementFileError` on the first
    bad one. Call :func:`settlement_file_check` first."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        next(reader)  # the header, checked by settlement_file_check
        for fields in reader:
            line_no = reader.line_num
            if not fields:
                continue  # a blank line (e.g. a trailing newline) carries nothing
            yield _row(line_no, fields)
    except csv.Error as exc:
        raise SettlementFileError(
            f"line {reader.line_num}: malformed CSV ({exc})", reason="malformed_csv", line=reader.line_num
        ) from None


def _row(line_no: int, fields: list[str]) -> Row:
    if len(fields) != len(COLUMNS):
        raise SettlementFileError(
            f"line {line_no}: expected {len(COLUMNS)} fields, got {len(fields)} (truncated or malformed row)",
            reason="wrong_field_count",
            line=line_no,
        )
    reference, payment_id, order_id, amount, currency, status, settled_at, fee = fields
    if not _ID.fullmatch(reference):
        _bad(line_no, "provider_reference", reference, "must be 1-64 characters of A-Z a-z 0-9 _ . : / -")
    if not _OPTIONAL_ID.fullmatch(payment_id):
        _bad(line_no, "payment_id", payment_id, "must be at most 64 characters of A-Z a-z 0-9 _ . : / -")
    if not _OPTIONAL_ID.fullmatch(order_id):
        _bad(line_no, "order_id", order_id, "must be at most 64 characters of A-Z a-z 0-9 _ . : / -")
    if not _INTEGER.fullmatch(amount) or not 0 < int(amount) <= MAX_MINOR_UNITS:
        _bad(line_no, "amount", amount, "must be a positive integer number of minor units", reason="bad_amount")
    if not _INTEGER.fullmatch(fee) or int(fee) > MAX_MINOR_UNITS:
        _bad(line_no, "fee", fee, "must be a non-negative integer number of minor units", reason="bad_amount")
    if not _CURRENCY.fullmatch(currency):
        _bad(line_no, "currency", currency, "must be an ISO 4217 code (3 capital letters)")
    if status not in STATUSES:
        _bad(line_no, "status", status, "must be success or failed")
    settled: datetime | None = None
    if settled_at:
        try:
            settled = datetime.fromisoformat(settled_at)
        except ValueError:
            _bad(line_no, "settled_at", settled_at, "must be an ISO-8601 timestamp")
        if settled.tzinfo is None:
            settled = settled.replace(tzinfo=UTC)
    elif status == "success":
        _bad(line_no, "settled_at", settled_at, "is required on a success line")
    return (line_no, reference, payment_id, order_id, int(amount), currency, status, settled, int(fee))


def _bad(line_no: int, column: str, value: str, rule: str, *, reason: str = "bad_value") -> NoReturn:
    shown = value if len(value) <= 40 else value[:40] + "…"
    raise SettlementFileError(f"line {line_no}: {column} {shown!r} {rule}", reason=reason, line=line_no)
