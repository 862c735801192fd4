from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """The core: merchants and API keys, orders, payments, refunds, the event outbox and the
    provider interface. It imports nothing from webhooks/, realtime/ or reconciliation/."""

    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import config.checks  # noqa: F401 - registers the system checks
