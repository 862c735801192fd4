"""Admin: notification switches per merchant (editable) and what was sent (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import Notification, NotificationPreference


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("merchant", "email_enabled", "sms_enabled", "updated_at")
    list_editable = ("email_enabled", "sms_enabled")
    search_fields = ("merchant__name", "merchant__email")
    list_select_related = ("merchant",)
    fields = ("merchant", "email_enabled", "sms_enabled")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "channel", "to", "event_type", "payment_id", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "event_type")
    search_fields = ("id", "payment_id", "refund_id", "event_id", "to")
    list_select_related = ("merchant",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
