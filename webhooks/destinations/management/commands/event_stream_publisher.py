"""``manage.py event_stream_publisher``: the long-lived event-stream publisher process."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from common.process import process_serving
from webhooks.destinations.runner import Publisher


class Command(BaseCommand):
    help = "Publish event destinations' events to their brokers (woken by the outbox; see docs/streams.md)."
    # As for the Celery workers beside it: `manage.py migrate` ran the system checks before
    # `make run` and docker-compose start the roles (and a test may shorten the lease).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--threads", type=int, default=8, help="drain threads (one destination each at a time)")

    def handle(self, *args: Any, threads: int, **options: Any) -> None:
        process_serving()
        publisher = Publisher(threads=threads, poll_seconds=settings.EVENT_DESTINATION_POLL_SECONDS)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: publisher.stop())
        publisher.serve()
