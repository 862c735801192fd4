from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outbound webhooks: endpoints, fan-out of outbox events, signed delivery with retries."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
