"""App config: registers the live outbox consumer and the demo dashboard user."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """Live pushes over websockets, the hosted checkout, checkout.js and the dashboard."""

    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.demo import register_demo_seeder
        from payments.outbox import register_consumer
        from realtime.push import outbox_live_handler
        from realtime.services import demo_dashboard_seed

        register_consumer("realtime", outbox_live_handler, durable=False)
        register_demo_seeder(demo_dashboard_seed)
