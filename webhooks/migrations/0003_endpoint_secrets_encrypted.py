"""Webhook signing secrets (current and rotating) move to encrypted columns: the columns
become text (a Fernet token is longer than the 128-character secret) and every existing
plaintext value is encrypted under the first FIELD_ENCRYPTION_KEYS key."""

from django.db import migrations

import payments.encryption

COLUMNS = ("secret", "previous_secret")


def encrypt_existing(apps, schema_editor) -> None:
    for column in COLUMNS:
        payments.encryption.column_transform(
            connection=schema_editor.connection,
            table="webhook_endpoints",
            pk_column="id",
            column=column,
            transform=payments.encryption.encrypt,
        )


def decrypt_existing(apps, schema_editor) -> None:
    for column in COLUMNS:
        payments.encryption.column_transform(
            connection=schema_editor.connection,
            table="webhook_endpoints",
            pk_column="id",
            column=column,
            transform=payments.encryption.decrypt,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_seed_beat_schedules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=payments.encryption.EncryptedTextField(blank=True, default=""),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=payments.encryption.EncryptedTextField(),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
