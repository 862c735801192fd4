from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """The core: merchants and API keys, orders, payments, refunds, the event outbox and the
    provider interface. It imports nothing from webhooks/, realtime/ or reconciliation/."""

    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.outbox import register_consumer
        from payments.providers import register_provider
        from payments.providers.simulator.provider import SimulatorProvider
        from payments.services.batches import batches_complete
        from payments.services.submission import provider_submissions_enqueue

        register_provider("simulator", SimulatorProvider())
        register_consumer("provider-submission", provider_submissions_enqueue)
        register_consumer("batches", batches_complete)
