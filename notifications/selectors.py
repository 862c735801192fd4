"""Read side of notifications; merchant-scoped like every selector."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification, NotificationPreference
from payments.models import Merchant, merchant_scope


def notification_list_for_merchant(*, merchant: Merchant, payment_id: str | None = None) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(**merchant_scope(merchant))
    if payment_id is not None:
        queryset = queryset.filter(payment_id=payment_id)
    return queryset.order_by("-created_at", "-id")


def notification_preference_get(*, merchant: Merchant) -> NotificationPreference:
    """The merchant's switches (the defaults, unsaved, when it never changed them)."""
    return NotificationPreference.objects.filter(merchant=merchant).first() or NotificationPreference(merchant=merchant)
