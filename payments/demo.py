"""Demo mode seeding. The core seeds the test merchant of PRODUCT.md §3 and a staff user;
other apps register their own idempotent seeders (e.g. the default webhook endpoint) in
their ``AppConfig.ready`` so this module never imports them.

Demo credentials are published, so they exist only in demo mode: seeding refuses to run
outside it (``DemoModeOff``), and the API refuses the demo key there even if the row is
still in the database (``payments.api.authentication``)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from common.registry import Registry
from payments.models import ApiKey, Merchant
from payments.services.api_keys import secret_hash

TEST_MERCHANT_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
TEST_MERCHANT_EMAIL = "test@example.com"
TEST_MERCHANT_NAME = "Test Merchant"
TEST_API_KEY = "key_test_abc123"
TEST_API_SECRET = "secret_test_xyz789"  # noqa: S105 - documented demo secret
TEST_WEBHOOK_SECRET = "whsec_test_abc123"  # noqa: S105 - documented demo secret
ADMIN_USERNAME = "admin"


class DemoModeOff(Exception):
    """Demo seeding was asked for while DEMO_MODE is off."""


DemoSeeder = Callable[[Merchant, dict[str, Any]], None]
demo_seeders: Registry[DemoSeeder] = Registry("demo seeder")


def register_demo_seeder(name: str, seeder: DemoSeeder) -> None:
    """Register an idempotent ``seeder(merchant, credentials)``; it may add to credentials."""
    demo_seeders.register(name, seeder)


def _credentials_file() -> Path:
    return Path(settings.BASE_DIR) / ".demo" / "credentials.json"


def demo_credentials_stored() -> dict[str, Any]:
    """The credentials the last seeding wrote (``.demo/credentials.json``), or {}: seeders
    keep their generated passwords across reseeds with it."""
    path = _credentials_file()
    if path.exists():
        return json.loads(path.read_text())
    return {}


def demo_seed() -> dict[str, Any]:
    """Create or repair the demo merchant, its API key and a staff superuser. Idempotent:
    running it again changes nothing but restores the documented key and secret. Returns
    the credentials to print. Refuses (``DemoModeOff``) outside demo mode: it would create
    a superuser and an API key whose credentials are public."""
    if not settings.DEMO_MODE:
        raise DemoModeOff("seed_demo only runs in demo mode (DEMO_MODE=true): its credentials are public")
    stored = demo_credentials_stored()
    admin_password = stored.get("admin_password") or secrets.token_urlsafe(12)
    with transaction.atomic():
        merchant, _ = Merchant.objects.update_or_create(
            id=TEST_MERCHANT_ID,
            defaults={"name": TEST_MERCHANT_NAME, "email": TEST_MERCHANT_EMAIL, "is_active": True},
        )
        ApiKey.objects.update_or_create(
            key_id=TEST_API_KEY,
            defaults={
                "merchant": merchant,
                "mode": ApiKey.Mode.TEST,
                "secret_hash": secret_hash(TEST_API_SECRET),
                "revoked_at": None,
                "label": "demo",
            },
        )
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True}
        )
        if created or not admin.check_password(admin_password):
            admin.is_staff = admin.is_superuser = True
            admin.set_password(admin_password)
            admin.save()
        credentials: dict[str, Any] = {
            "merchant_id": str(merchant.id),
            "merchant_email": merchant.email,
            "api_key": TEST_API_KEY,
            "api_secret": TEST_API_SECRET,
            "webhook_secret": TEST_WEBHOOK_SECRET,
            "admin_username": ADMIN_USERNAME,
            "admin_password": admin_password,
        }
        for seeder in demo_seeders.entries():
            seeder(merchant, credentials)
    path = _credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    return credentials
