"""Secrets at rest: webhook signing secrets are Fernet tokens in PostgreSQL, readable under
any configured key, re-encrypted under the newest by ``encryption_rotate``, and existing
plaintext rows are encrypted by the data migration."""

from __future__ import annotations

import importlib

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from payments.encryption import DecryptionFailed, EncryptedTextField, encrypted_fields
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import endpoint_create, endpoint_rotate_secret

pytestmark = pytest.mark.django_db

KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()


def raw_columns(endpoint_id: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = %s", [endpoint_id])
        return cursor.fetchone()


def make_endpoint(merchant) -> WebhookEndpoint:
    return endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook", actor="test")


def test_signing_secrets_are_stored_as_fernet_tokens(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    endpoint = make_endpoint(alice.merchant)
    first_secret = endpoint.secret
    _, new_secret = endpoint_rotate_secret(endpoint=endpoint, actor="test", grace_seconds=3600)
    raw_secret, raw_previous = raw_columns(endpoint.id)
    assert raw_secret.startswith("gAAAAA") and raw_previous.startswith("gAAAAA")  # Fernet version byte
    assert new_secret not in raw_secret and first_secret not in raw_previous
    assert Fernet(KEY_OLD.encode()).decrypt(raw_secret.encode()).decode() == new_secret
    assert Fernet(KEY_OLD.encode()).decrypt(raw_previous.encode()).decode() == first_secret
    reloaded = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (reloaded.secret, reloaded.previous_secret) == (new_secret, first_secret)


def test_empty_previous_secret_stays_empty(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    endpoint = make_endpoint(alice.merchant)
    assert raw_columns(endpoint.id)[1] == ""
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).previous_secret == ""


def test_rotation_old_key_decrypts_until_rotate_rewrites_under_new_key(alice, settings, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    endpoint = make_endpoint(alice.merchant)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret  # old token, old key

    call_command("encryption_rotate")
    assert "webhook_endpoints.secret: 1 value(s) re-encrypted" in capsys.readouterr().out
    raw_secret, _ = raw_columns(endpoint.id)
    assert Fernet(KEY_NEW.encode()).decrypt(raw_secret.encode()).decode() == endpoint.secret

    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]  # the old key is gone: rows still readable
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_dropping_a_key_too_early_fails_loudly_and_rotate_changes_nothing(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    endpoint = make_endpoint(alice.merchant)
    before = raw_columns(endpoint.id)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]
    with pytest.raises(DecryptionFailed):
        WebhookEndpoint.objects.get(pk=endpoint.pk)
    with pytest.raises(CommandError, match="keep the old key"):
        call_command("encryption_rotate")
    assert raw_columns(endpoint.id) == before


def test_malformed_key_is_a_configuration_error(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        make_endpoint(alice.merchant)


def test_data_migration_encrypts_existing_plaintext_rows(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    endpoint = make_endpoint(alice.merchant)
    with connection.cursor() as cursor:  # a row as 0002 left it: plaintext
        cursor.execute(
            "UPDATE webhook_endpoints SET secret = %s, previous_secret = %s WHERE id = %s",
            ["whsec_plain_current", "whsec_plain_previous", endpoint.id],
        )
    migration = importlib.import_module("webhooks.migrations.0003_endpoint_secrets_encrypted")
    with connection.schema_editor() as editor:
        migration.encrypt_existing(None, editor)
    raw_secret, raw_previous = raw_columns(endpoint.id)
    assert "whsec_plain" not in raw_secret + raw_previous
    reloaded = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (reloaded.secret, reloaded.previous_secret) == ("whsec_plain_current", "whsec_plain_previous")
    with connection.schema_editor() as editor:  # and the reverse migration restores them
        migration.decrypt_existing(None, editor)
    assert raw_columns(endpoint.id) == ("whsec_plain_current", "whsec_plain_previous")


def test_every_encrypted_column_is_found_by_rotate():
    found = {model._meta.db_table: names for model, names in encrypted_fields()}
    assert found["webhook_endpoints"] == ["secret", "previous_secret"]
    assert all(
        isinstance(model._meta.get_field(name), EncryptedTextField)
        for model, names in encrypted_fields()
        for name in names
    )
