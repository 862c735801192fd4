"""System checks of the notification settings (a misconfigured SMS backend fails loudly)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def sms_backend_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.SMS_BACKEND not in ("", "console", "http"):
        return [Error(f"SMS_BACKEND={settings.SMS_BACKEND!r}: use '', 'console' or 'http'", id="notifications.E001")]
    if settings.SMS_BACKEND == "http" and not (settings.SMS_GATEWAY_URL and settings.SMS_GATEWAY_SECRET):
        return [
            Error(
                "SMS_BACKEND=http needs SMS_GATEWAY_URL and SMS_GATEWAY_SECRET",
                hint="The gateway verifies the Standard Webhooks signature made with the secret.",
                id="notifications.E002",
            )
        ]
    return []
