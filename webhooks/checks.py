"""System checks for webhook settings that would break delivery guarantees."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def webhook_settings_check(app_configs, **kwargs) -> list[Error]:
    from webhooks.services.claims import LEASE_MARGIN_SECONDS

    errors: list[Error] = []
    # A claim's last attempt starts within the send window and is over by its deadline.
    claim_max = settings.WEBHOOK_CLAIM_SEND_SECONDS + settings.WEBHOOK_TOTAL_TIMEOUT + LEASE_MARGIN_SECONDS
    if claim_max >= settings.WEBHOOK_DELIVERY_LEASE_SECONDS:
        errors.append(
            Error(
                "WEBHOOK_DELIVERY_LEASE_SECONDS must exceed the claim send window + the attempt deadline + "
                f"{LEASE_MARGIN_SECONDS:g} s ({claim_max:g} s), or attempts would be cut short at the lease end.",
                id="webhooks.E001",
            )
        )
    if not 0 < settings.WEBHOOK_CONNECT_TIMEOUT <= settings.WEBHOOK_TOTAL_TIMEOUT:
        errors.append(
            Error("WEBHOOK_CONNECT_TIMEOUT must be > 0 and at most WEBHOOK_TOTAL_TIMEOUT", id="webhooks.E004")
        )
    if settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT < 1 or settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS < 1:
        errors.append(Error("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT and _PARALLEL_REQUESTS must be >= 1", id="webhooks.E002"))
    if any(d < 0 for d in settings.WEBHOOK_RETRY_DELAYS):
        errors.append(Error("WEBHOOK_RETRY_DELAYS must be non-negative seconds", id="webhooks.E003"))
    return errors
