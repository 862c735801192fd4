"""System checks for webhook settings that would break delivery guarantees."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def webhook_settings_check(app_configs, **kwargs) -> list[Error]:
    errors: list[Error] = []
    attempt_max = settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_TOTAL_TIMEOUT + 2
    if attempt_max >= settings.WEBHOOK_DELIVERY_LEASE_SECONDS:
        errors.append(
            Error(
                "WEBHOOK_DELIVERY_LEASE_SECONDS must exceed connect + total timeout + 2 s "
                f"({attempt_max:g} s), or a slow attempt could outlive its claim.",
                id="webhooks.E001",
            )
        )
    if settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT < 1 or settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS < 1:
        errors.append(Error("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT and _PARALLEL_REQUESTS must be >= 1", id="webhooks.E002"))
    if any(d < 0 for d in settings.WEBHOOK_RETRY_DELAYS):
        errors.append(Error("WEBHOOK_RETRY_DELAYS must be non-negative seconds", id="webhooks.E003"))
    return errors
