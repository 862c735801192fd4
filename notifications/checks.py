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


@register()
def send_deadline_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A send must end inside its lease, or another worker claims the row and sends again."""
    if settings.EMAIL_SEND_DEADLINE_SECONDS >= settings.NOTIFICATION_LEASE_SECONDS:
        return [
            Error(
                f"EMAIL_SEND_DEADLINE_SECONDS ({settings.EMAIL_SEND_DEADLINE_SECONDS}) must be below "
                f"NOTIFICATION_LEASE_SECONDS ({settings.NOTIFICATION_LEASE_SECONDS})",
                hint="Otherwise a slow mail server's send outlives its lease and the receipt is sent twice.",
                id="notifications.E003",
            )
        ]
    return []
