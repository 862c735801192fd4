"""``manage.py seed_demo``: idempotently seed demo data and print the credentials as JSON."""

import json

from django.core.management.base import BaseCommand

from payments.demo import demo_seed


class Command(BaseCommand):
    help = "Seed the demo merchant (PRODUCT.md §3), its API key and a staff superuser."

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(demo_seed(), indent=2))
