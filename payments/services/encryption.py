"""Key rotation for secrets at rest (``payments.encryption``)."""

from __future__ import annotations

from django.db import connection, transaction

from payments.encryption import column_transform, encrypted_fields, reencrypt


def encrypted_columns_rotate() -> dict[str, int]:
    """Re-encrypt every encrypted column of every model under the first configured key.
    Each row is a compare-and-set, so a secret rotated meanwhile is never overwritten; one
    transaction per column. Raises ``DecryptionFailed`` (and rolls that column back) if a
    value matches no configured key. Returns ``{"table.column": rows rewritten}``."""
    counts: dict[str, int] = {}
    for model, attnames in encrypted_fields():
        for attname in attnames:
            column = model._meta.get_field(attname).column
            with transaction.atomic():
                counts[f"{model._meta.db_table}.{column}"] = column_transform(
                    connection=connection,
                    table=model._meta.db_table,
                    pk_column=model._meta.pk.column,
                    column=column,
                    transform=reencrypt,
                )
    return counts
