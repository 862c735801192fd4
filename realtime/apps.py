from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Live pushes over websockets, the hosted checkout, checkout.js and the dashboard."""

    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"
