"""``manage.py webhook_receiver --port 4000 --secret whsec_… [--fail-first N] [--drip SECONDS]``"""

from django.core.management.base import BaseCommand, CommandParser

from webhooks.receiver import receiver_server


class Command(BaseCommand):
    help = "Run a local webhook receiver that prints each delivery and verifies both signatures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=4000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--secret", required=True, help="the endpoint secret (whsec_…)")
        parser.add_argument("--fail-first", type=int, default=0, help="answer 500 to the first N attempts per event")
        parser.add_argument(
            "--drip", type=float, default=0.0, help="send headers, then a body byte every SECONDS (slow receiver)"
        )

    def handle(self, *args, **options) -> None:
        def out(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        server = receiver_server(
            host=options["host"],
            port=options["port"],
            secret=options["secret"],
            fail_first=options["fail_first"],
            out=out,
            drip=options["drip"],
        )
        out(f"webhook receiver listening on http://{options['host']}:{options['port']}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
