from django.apps import AppConfig


class EventDestinationsConfig(AppConfig):
    """Broker destinations of the event outbox: each publishes a merchant's events in log
    order from its own cursor, so one broker being down holds only its destination."""

    name = "webhooks.destinations"
    label = "event_destinations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.outbox import register_consumer
        from webhooks.destinations.publishing import destinations_nudge

        register_consumer("event_destinations", destinations_nudge)
