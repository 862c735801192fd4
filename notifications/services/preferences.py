"""Per-merchant, per-channel switches of customer notifications."""

from __future__ import annotations

from notifications.models import NotificationPreference
from payments.models import Merchant


def notification_preference_update(
    *, merchant: Merchant, email_enabled: bool | None = None, sms_enabled: bool | None = None
) -> NotificationPreference:
    """Turn channels on or off (``None`` leaves one as it is); one upsert. Applies to events
    dispatched from now on: rows already created are still sent."""
    changes = {
        key: value
        for key, value in {"email_enabled": email_enabled, "sms_enabled": sms_enabled}.items()
        if value is not None
    }
    preference, _ = NotificationPreference.objects.update_or_create(merchant=merchant, defaults=changes)
    return preference
