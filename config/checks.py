"""Misconfiguration checks: a Django system check plus a hard stop for serving processes."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register
from django.core.exceptions import ImproperlyConfigured


def _missing_secret_key() -> bool:
    return settings.SECRET_KEY == settings.INSECURE_SECRET_KEY and not (settings.DEBUG or settings.DEMO_MODE)


@register()
def secret_key_check(app_configs, **kwargs) -> list[Warning]:
    if _missing_secret_key():
        return [
            Warning(
                "SECRET_KEY is not set; serving processes will refuse to start",
                hint="Set SECRET_KEY (or DEBUG/DEMO_MODE for local use).",
                id="tender.W001",
            )
        ]
    return []


def require_production_secrets() -> None:
    """Called by the ASGI/WSGI/Celery entry points: fail loudly before serving anything."""
    if _missing_secret_key():
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG and DEMO_MODE are off.")
