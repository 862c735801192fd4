"""Merchants and API keys: creation (secret returned once), authentication, revocation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from payments.models import ApiKey, Merchant

# Refresh last_used_at at most this often, so authentication stays a single SELECT.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_key_create(
    *,
    merchant: Merchant,
    mode: str = ApiKey.Mode.TEST,
    key_id: str | None = None,
    secret: str | None = None,
    label: str = "",
) -> IssuedApiKey:
    """Create an API key for ``merchant``. ``key_id``/``secret`` are only passed by demo
    seeding; otherwise both are random. The plain secret is returned once."""
    key_id = key_id or f"key_{mode}_{secrets.token_hex(8)}"
    secret = secret or f"secret_{mode}_{secrets.token_urlsafe(24)}"
    api_key = ApiKey.objects.create(
        key_id=key_id, merchant=merchant, mode=mode, secret_hash=secret_hash(secret), label=label
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


# Runs on every API request: one hand-written SELECT (the ORM spent more CPU building the
# join than PostgreSQL spent answering it).
_AUTH_SQL = """
SELECT k.id, k.mode, k.secret_hash, k.label, k.created_at, k.last_used_at,
       m.name, m.email, m.is_active, m.created_at, m.updated_at, m.id
  FROM api_keys k JOIN merchants m ON m.id = k.merchant_id
 WHERE k.key_id = %s AND k.revoked_at IS NULL AND m.is_active
"""


def _active_key(key_id: str) -> ApiKey | None:
    with connection.cursor() as cursor:
        cursor.execute(_AUTH_SQL, [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, mode, hashed, label, created_at, last_used_at, name, email, is_active, m_created, m_updated, m_id = row
    merchant = Merchant.from_db(
        "default", ["id", "name", "email", "is_active", "created_at", "updated_at"],
        [m_id, name, email, is_active, m_created, m_updated],
    )  # fmt: skip
    api_key = ApiKey.from_db(
        "default",
        ["id", "key_id", "merchant_id", "mode", "secret_hash", "label", "created_at", "last_used_at", "revoked_at"],
        [pk, key_id, m_id, mode, hashed, label, created_at, last_used_at, None],
    )
    api_key.merchant = merchant
    return api_key


def api_key_authenticate(*, key_id: str, secret: str) -> ApiKey | None:
    """Return the active key matching ``key_id`` and ``secret``, or None. Constant-time
    comparison; a dummy comparison for unknown keys keeps timing uniform."""
    if len(key_id) > 64 or len(secret) > 256:
        return None
    api_key = _active_key(key_id)
    candidate = secret_hash(secret)
    if api_key is None:
        hmac.compare_digest(candidate, "0" * 64)
        return None
    if not hmac.compare_digest(candidate, api_key.secret_hash):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key; idempotent (an already revoked key keeps its first revocation time)."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


@transaction.atomic
def merchant_create(*, name: str, email: str, mode: str = ApiKey.Mode.TEST) -> tuple[Merchant, IssuedApiKey]:
    """Create a merchant with its first API key; the secret is returned once."""
    merchant = Merchant.objects.create(name=name, email=email.strip().lower())
    issued = api_key_create(merchant=merchant, mode=mode)
    return merchant, issued
