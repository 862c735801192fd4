"""``manage.py mail_sink``: the local SMTP server of `make run` that prints every message."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand

from notifications.mailsink import mail_sink_start, stdout_handler


class Command(BaseCommand):
    help = "Run a local SMTP sink that accepts and prints every message (development only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        # aiosmtpd logs every SMTP command at INFO; the messages themselves are the output.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        controller = mail_sink_start(host=host, port=port, handler=stdout_handler())
        self.stdout.write(f"mail sink listening on smtp://{host}:{port}; receipts are printed here")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
