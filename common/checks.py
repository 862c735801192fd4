"""Misconfiguration checks: a Django system check plus a hard stop for serving processes.

Outside demo mode (a production deployment) three secrets must be set, each for its own
purpose, none derived from another: ``SECRET_KEY`` (sessions, CSRF, idempotency hashes),
``PROVIDER_WEBHOOK_SECRET`` (inbound provider notifications; a forged one could mark a
payment paid) and ``FIELD_ENCRYPTION_KEYS`` (secrets at rest). Servers, workers and Beat
refuse to start without them, naming the missing ones (docs/security.md).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register
from django.core.exceptions import ImproperlyConfigured

# Values published in this repository or its history: as good as no secret at all.
PUBLISHED_SECRETS = frozenset({"", "change-me", "changeme", "secret"})


def missing_production_secrets() -> list[str]:
    """Names of the required secrets that are unset (or a published placeholder), in
    production mode; always empty in demo mode."""
    if settings.DEMO_MODE:
        return []
    missing = []
    if settings.SECRET_KEY in PUBLISHED_SECRETS or settings.SECRET_KEY == settings.INSECURE_SECRET_KEY:
        missing.append("SECRET_KEY")
    if settings.PROVIDER_WEBHOOK_SECRET in PUBLISHED_SECRETS:
        missing.append("PROVIDER_WEBHOOK_SECRET")
    if not settings.FIELD_ENCRYPTION_KEYS:
        missing.append("FIELD_ENCRYPTION_KEYS")
    return missing


def _refusal(missing: list[str]) -> str:
    return (
        f"Tender refuses to start in production mode (DEMO_MODE is off) without {', '.join(missing)}: "
        "set each to its own random value (docs/security.md), or set DEMO_MODE=true for a local demo."
    )


@register()
def production_secrets_check(app_configs, **kwargs) -> list[Warning]:
    """A warning for tooling commands (``check``, ``collectstatic``); serving processes stop."""
    missing = missing_production_secrets()
    if missing:
        return [Warning(_refusal(missing), hint="Servers, workers and Beat will not start.", id="tender.W001")]
    return []


def require_production_secrets() -> None:
    """Called by the ASGI/WSGI entry points, the Celery worker and Beat: fail loudly, naming
    every missing secret, before serving anything."""
    missing = missing_production_secrets()
    if missing:
        raise ImproperlyConfigured(_refusal(missing))
