"""Routes of the notifications API (mounted under /api/v1/)."""

from django.urls import path

from notifications.api import views

urlpatterns: list = [
    path("notifications", views.NotificationsApi.as_view(), name="notifications"),
    path("notification-settings", views.NotificationSettingsApi.as_view(), name="notification-settings"),
]
