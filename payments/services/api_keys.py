"""Merchants and API keys: creation (secret returned once), authentication, revocation, and
rolling with an overlap. ``revoked_at`` is the moment a key stops working: a rolled key's
lies in the future until its overlap ends, and authentication compares it with
``statement_timestamp()`` (not ``now()``, the start of a possibly long transaction)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import Conflict, InvalidInput
from payments.models import ApiKey, Merchant

# Refresh last_used_at at most this often, so authentication stays a single SELECT.
LAST_USED_RESOLUTION = timedelta(seconds=60)
ROLL_OVERLAP_MAX = timedelta(days=7)


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
SELECT k.id, k.mode, k.secret_hash, k.label, k.created_at, k.last_used_at, k.revoked_at,
       m.name, m.email, m.is_active, m.created_at, m.updated_at, m.id
  FROM api_keys k JOIN merchants m ON m.id = k.merchant_id
 WHERE k.key_id = %s AND (k.revoked_at IS NULL OR k.revoked_at > statement_timestamp()) AND m.is_active
"""


def _active_key(key_id: str) -> ApiKey | None:
    with connection.cursor() as cursor:
        cursor.execute(_AUTH_SQL, [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    (
        pk,
        mode,
        hashed,
        label,
        created_at,
        last_used_at,
        revoked_at,
        name,
        email,
        is_active,
        m_created,
        m_updated,
        m_id,
    ) = row
    merchant = Merchant.from_db(
        "default", ["id", "name", "email", "is_active", "created_at", "updated_at"],
        [m_id, name, email, is_active, m_created, m_updated],
    )  # fmt: skip
    api_key = ApiKey.from_db(
        "default",
        ["id", "key_id", "merchant_id", "mode", "secret_hash", "label", "created_at", "last_used_at", "revoked_at"],
        [pk, key_id, m_id, mode, hashed, label, created_at, last_used_at, revoked_at],
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
    """Revoke a key now; idempotent (an already revoked key keeps its first revocation
    time). A rolled key still in its overlap stops now."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)).update(
        revoked_at=now
    )
    api_key.refresh_from_db()
    return api_key


def api_key_roll(*, api_key: ApiKey, overlap: timedelta) -> IssuedApiKey:
    """Replace ``api_key`` by a new key of the same merchant, mode and label (secret returned
    once); the old key keeps working for ``overlap`` (0 … 7 days) so deployments can switch,
    then stops. The old row is locked, so two rolls of one key cannot both succeed.
    Raises ``InvalidInput`` for a bad overlap and ``Conflict`` for a key that no longer works
    or is already being rolled."""
    if not isinstance(overlap, timedelta) or overlap < timedelta(0) or overlap > ROLL_OVERLAP_MAX:
        raise InvalidInput("overlap must be between 0 and 7 days", field="overlap", reason="invalid_overlap")
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        now = timezone.now()
        if current.revoked_at is not None and current.revoked_at <= now:
            raise Conflict("This key is revoked; create a new one instead", reason="api_key_revoked")
        if current.revoked_at is not None:
            raise Conflict("This key is already being rolled (it stops at its overlap's end)", reason="api_key_rolling")
        issued = api_key_create(merchant=current.merchant, mode=current.mode, label=current.label)
        ApiKey.objects.filter(pk=current.pk).update(revoked_at=now + overlap)
    api_key.refresh_from_db()
    return issued


@transaction.atomic
def merchant_create(*, name: str, email: str, mode: str = ApiKey.Mode.TEST) -> tuple[Merchant, IssuedApiKey]:
    """Create a merchant with its first API key; the secret is returned once."""
    merchant = Merchant.objects.create(name=name, email=email.strip().lower())
    issued = api_key_create(merchant=merchant, mode=mode)
    return merchant, issued
