from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outbound webhooks: endpoints, fan-out of outbox events, signed delivery with retries."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.demo import register_demo_seeder
        from payments.outbox import register_consumer
        from webhooks import checks  # noqa: F401 - registers the system checks
        from webhooks.demo import demo_webhooks_seed
        from webhooks.services.fanout import deliveries_fan_out

        register_consumer("webhooks", deliveries_fan_out)
        register_demo_seeder("webhooks", demo_webhooks_seed)
