from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """Settlement-file import and set-based reconciliation against our payments."""

    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
