"""App config: registers the notifications outbox consumer."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Receipts to customers (email through Django's mail framework, SMS through a backend),
    created from committed outbox events and delivered at least once with retries."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import checks  # noqa: F401 - registers the system checks
        from notifications.services.enqueue import notifications_enqueue
        from payments.outbox import register_consumer

        register_consumer("notifications", notifications_enqueue)
