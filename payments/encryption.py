"""Secrets at rest: a model field whose column holds a Fernet token, never the plaintext.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (a list of Fernet keys, newest first):
the first key encrypts, every key decrypts, so a rotation is "prepend a new key, run
``manage.py encryption_rotate``, then drop the old key" (docs/security.md). In demo mode
an unset list falls back to one key derived from ``SECRET_KEY``; outside it nothing is
encrypted or decrypted without the setting (and servers refuse to start, ``common.checks``),
so a production row is never written under a key the operator does not hold.

Fernet is randomised (AES-128-CBC + HMAC-SHA256 with a fresh IV), so an encrypted column
cannot be filtered on: look rows up by another column and read the secret from them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

DERIVED_KEY_CONTEXT = b"tender-field-encryption-v1:"


class DecryptionFailed(Exception):
    """A stored token matches none of FIELD_ENCRYPTION_KEYS (a key was dropped too early)."""


def derived_key(secret_key: str) -> str:
    """The demo-mode fallback key: a Fernet key derived from ``SECRET_KEY``."""
    digest = hashlib.sha256(DERIVED_KEY_CONTEXT + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    """FIELD_ENCRYPTION_KEYS, or the derived key when it is unset (demo mode only)."""
    keys = list(settings.FIELD_ENCRYPTION_KEYS or [])
    if keys:
        return keys
    if not settings.DEMO_MODE:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set outside demo mode (docs/security.md).")
    return [derived_key(settings.SECRET_KEY)]


@functools.lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64 bytes each; "
            "generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from exc


def cipher() -> MultiFernet:
    return _cipher(tuple(configured_keys()))


def encrypt(plaintext: str) -> str:
    """A Fernet token of ``plaintext`` under the first key."""
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of ``token`` under any configured key; raises ``DecryptionFailed``."""
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("stored secret matches no key in FIELD_ENCRYPTION_KEYS") from None


def reencrypt(token: str) -> str:
    """``token`` re-encrypted under the first key (``MultiFernet.rotate``)."""
    try:
        return cipher().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("stored secret matches no key in FIELD_ENCRYPTION_KEYS") from None


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token and read back as the plaintext.

    The empty string stays empty (it means "no secret", e.g. no rotation in progress) and
    ``None`` stays ``None``; anything else is encrypted on every write. Lookups other than
    ``isnull`` and equality with "" are meaningless on ciphertext, so do not filter on it.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    """Every concrete model with encrypted columns, and those columns' attribute names."""
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names and not model._meta.proxy:
            yield model, names


def column_transform(*, connection: Any, table: str, pk_column: str, column: str, transform: Any) -> int:
    """Rewrite every non-empty value of ``table.column`` as ``transform(raw value)``, with a
    compare-and-set per row (a concurrent write wins over this rewrite of the old value).
    Used by the data migrations (plaintext -> token) and by ``encryption_rotate``. Returns
    the number of rows rewritten."""
    quote = connection.ops.quote_name
    table_q, pk_q, column_q = quote(table), quote(pk_column), quote(column)
    rewritten = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk_q}, {column_q} FROM {table_q} WHERE {column_q} <> ''")  # noqa: S608 - quoted names
        rows = cursor.fetchall()
    for pk, raw in rows:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table_q} SET {column_q} = %s WHERE {pk_q} = %s AND {column_q} = %s",  # noqa: S608
                [transform(raw), pk, raw],
            )
            rewritten += cursor.rowcount
    return rewritten
