"""``manage.py seed_demo``: idempotently seed demo data and print the credentials as JSON.
Demo mode only: outside it the command refuses and prints nothing."""

import json

from django.core.management.base import BaseCommand, CommandError

from payments.demo import DemoModeOff, demo_seed


class Command(BaseCommand):
    help = "Seed the demo merchant (PRODUCT.md §3), its API key and a staff superuser (DEMO_MODE only)."

    def handle(self, *args, **options) -> None:
        try:
            credentials = demo_seed()
        except DemoModeOff as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(credentials, indent=2))
