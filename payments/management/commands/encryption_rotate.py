"""``manage.py encryption_rotate``: re-encrypt every encrypted column under the first key of
FIELD_ENCRYPTION_KEYS, so an old key can then be removed (docs/security.md, "Rotating the
encryption key")."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.encryption import DecryptionFailed
from payments.services.encryption import encrypted_columns_rotate


class Command(BaseCommand):
    help = "Re-encrypt secrets at rest under the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options) -> None:
        try:
            counts = encrypted_columns_rotate()
        except DecryptionFailed as exc:
            raise CommandError(f"{exc}: keep the old key in FIELD_ENCRYPTION_KEYS until this succeeds") from exc
        for table_column, count in counts.items():
            self.stdout.write(f"{table_column}: {count} value(s) re-encrypted")
