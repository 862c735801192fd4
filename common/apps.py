from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Tender shared infrastructure"

    def ready(self) -> None:
        # Importing the module registers its system checks: the app registry must be ready
        # first, which is why this import sits here and not at the top.
        from common import checks  # noqa: F401
