"""Idempotency keys: a retried request has at most one effect and gets the same answer.

Protocol (merchant-scoped key, kept ``IDEMPOTENCY_KEY_TTL_HOURS``):

1. *Claim* with ``INSERT … ON CONFLICT DO NOTHING`` in its own autocommit statement
   (state ``in_flight``; ``locked_at`` doubles as the claim token).
2. Run the business writes and store the response (status + exact body bytes) in ONE
   transaction, conditional on still holding the claim. Either both commit or neither.
3. On an error response (or a crash inside the transaction) delete the claim, so the
   client may retry with the same key.

A second request with the key gets the stored response byte for byte; while the first is
in flight it gets 409 ``CONFLICT_ERROR`` with ``Retry-After``; with a different method,
path or body it gets 400 ``idempotency_key_reused``. A claim older than
``IDEMPOTENCY_STALE_SECONDS`` (its process died) is taken over with a compare-and-set.
The request hash is an HMAC under SECRET_KEY: bodies may carry card numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from common.errors import Conflict, InvalidInput
from payments.models import IdempotencyKey, Merchant, Mode

MAX_KEY_LENGTH = 255
logger = logging.getLogger("tender.idempotency")

_CLAIM_SQL = """
INSERT INTO idempotency_keys
    (merchant_id, key, request_method, request_path, request_hash, state, locked_at, created_at, expires_at)
VALUES (%s, %s, %s, %s, %s, 'in_flight', clock_timestamp(), now(), now() + make_interval(hours => %s))
ON CONFLICT (merchant_id, key) DO NOTHING
RETURNING id, locked_at
"""
_LOOKUP_SQL = """
SELECT id, request_method, request_path, request_hash, state, response_status, response_body,
       locked_at, expires_at <= now(), locked_at < now() - make_interval(secs => %s)
  FROM idempotency_keys WHERE merchant_id = %s AND key = %s
"""
_RECLAIM_EXPIRED_SQL = """
UPDATE idempotency_keys
   SET request_method = %s, request_path = %s, request_hash = %s, state = 'in_flight',
       response_status = NULL, response_body = NULL, locked_at = clock_timestamp(),
       created_at = now(), expires_at = now() + make_interval(hours => %s)
 WHERE id = %s AND expires_at <= now()
RETURNING id, locked_at
"""
_RECLAIM_STALE_SQL = """
UPDATE idempotency_keys SET locked_at = clock_timestamp()
 WHERE id = %s AND state = 'in_flight' AND locked_at = %s
RETURNING id, locked_at
"""
_COMPLETE_SQL = """
UPDATE idempotency_keys SET state = 'completed', response_status = %s, response_body = %s
 WHERE id = %s AND state = 'in_flight' AND locked_at = %s
"""
_RELEASE_SQL = "DELETE FROM idempotency_keys WHERE id = %s AND state = 'in_flight' AND locked_at = %s"


@dataclass(frozen=True)
class IdempotentResponse:
    status: int
    body: bytes
    replayed: bool


def idempotency_request_hash(*, method: str, path: str, body: Any) -> str:
    """HMAC-SHA256 (SECRET_KEY) of method, path and the canonical JSON of the body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = f"{method.upper()}\n{path}\n{canonical}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


# Live keys' idempotency keys are stored behind this prefix: a test key can never replay a
# live response (nor the reverse). "\x1f" cannot occur in a validated key (printable only);
# test keys keep the bare key, as stored before modes existed.
_LIVE_KEY_PREFIX = "live\x1f"


def _scoped_key(merchant: Merchant, key: str) -> str:
    return _LIVE_KEY_PREFIX + key if merchant.acting_mode == Mode.LIVE else key


def idempotency_key_validate(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
            field="Idempotency-Key",
            reason="invalid_idempotency_key",
        )
    return key


def _execute(sql: str, params: list[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _claim(
    *, merchant: Merchant, key: str, method: str, path: str, request_hash: str
) -> tuple[int, datetime] | IdempotentResponse:
    ttl = settings.IDEMPOTENCY_KEY_TTL_HOURS
    for _ in range(3):
        row = _execute(_CLAIM_SQL, [merchant.pk, key, method, path, request_hash, ttl])
        if row is not None:
            return row[0], row[1]
        found = _execute(_LOOKUP_SQL, [settings.IDEMPOTENCY_STALE_SECONDS, merchant.pk, key])
        if found is None:
            continue  # released between our INSERT and SELECT: try the INSERT again
        key_id, f_method, f_path, f_hash, state, status, body, locked_at, expired, stale = found
        if expired:
            row = _execute(_RECLAIM_EXPIRED_SQL, [method, path, request_hash, ttl, key_id])
            if row is not None:
                return row[0], row[1]
            continue
        if (f_method, f_path) != (method, path) or not hmac.compare_digest(f_hash, request_hash):
            raise InvalidInput(
                "This Idempotency-Key was already used with a different request",
                field="Idempotency-Key",
                reason="idempotency_key_reused",
            )
        if state == IdempotencyKey.State.COMPLETED:
            return IdempotentResponse(status=status, body=bytes(body), replayed=True)
        if stale:
            row = _execute(_RECLAIM_STALE_SQL, [key_id, locked_at])
            if row is not None:
                return row[0], row[1]
        raise _in_flight()
    raise _in_flight()


def _in_flight() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly",
        reason="idempotency_key_in_flight",
        retry_after_seconds=1,
    )


def idempotent_execute(
    *,
    merchant: Merchant,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    handler: Callable[[], tuple[int, bytes]],
) -> IdempotentResponse:
    """Run ``handler`` (business writes; returns status + rendered body, raises
    ``DomainError`` for error responses) at most once per (merchant, mode, key)."""
    claim = _claim(
        merchant=merchant, key=_scoped_key(merchant, key), method=method, path=path, request_hash=request_hash
    )
    if isinstance(claim, IdempotentResponse):
        return claim
    key_id, token = claim
    try:
        with transaction.atomic():
            status, body = handler()
            with connection.cursor() as cursor:
                cursor.execute(_COMPLETE_SQL, [status, body, key_id, token])
                if cursor.rowcount != 1:
                    # Our claim went stale and another request took it over: undo our writes.
                    raise _in_flight()
    except BaseException:
        _execute_release(key_id, token)
        raise
    return IdempotentResponse(status=status, body=body, replayed=False)


def _execute_release(key_id: int, token: datetime) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(_RELEASE_SQL, [key_id, token])
    except Exception:  # noqa: BLE001 - keep the original error; a stale claim is reclaimable
        logger.warning("could not release an idempotency claim", extra={"idempotency_key_id": key_id})


def idempotency_keys_purge(*, limit: int = 10_000) -> int:
    """Beat job: delete expired keys (in batches, so it never holds long locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM idempotency_keys WHERE id IN "
            "(SELECT id FROM idempotency_keys WHERE expires_at <= now() LIMIT %s)",
            [limit],
        )
        return cursor.rowcount
