"""``manage.py reconcile --provider simulator --from … --to … [--file path] [--dry-run]``.

Without ``--file`` the provider's settlement file for the period is fetched. Bounds are
ISO-8601 (a date means midnight UTC; a time without offset is UTC). ``--dry-run`` shows the
counts per class and stores nothing, changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments.api.errors import ApiError
from reconciliation.models import SettlementFile
from reconciliation.parsing import SettlementFileError
from reconciliation.services.runs import reconciliation_run


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not an ISO-8601 date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Reconcile a provider's settlement file for a period with our payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", default="simulator")
        parser.add_argument("--from", dest="period_start", required=True, help="start (inclusive), ISO-8601")
        parser.add_argument("--to", dest="period_end", required=True, help="end (exclusive), ISO-8601")
        parser.add_argument("--file", dest="path", help="a settlement CSV instead of fetching from the provider")
        parser.add_argument("--dry-run", action="store_true", help="classify and report; store and change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        content = None
        filename = ""
        if options["path"]:
            path = Path(options["path"])
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None
            filename = path.name
        try:
            outcome = reconciliation_run(
                provider=options["provider"],
                period_start=_moment(options["period_start"]),
                period_end=_moment(options["period_end"]),
                content=content,
                filename=filename,
                source=SettlementFile.Source.COMMAND,
                dry_run=options["dry_run"],
            )
        except SettlementFileError as exc:
            raise CommandError(f"settlement file rejected ({exc.reason}): {exc.message}") from None
        except ApiError as exc:
            raise CommandError(exc.description) from None
        if outcome.already_imported:
            self.stdout.write(f"already imported: this file is run {outcome.run.id}; nothing changed")
        elif outcome.dry_run:
            self.stdout.write(f"dry run: {outcome.line_count} lines classified; nothing stored or changed")
        else:
            run = outcome.run
            self.stdout.write(
                f"run {run.id}: {outcome.line_count} lines, {outcome.new_discrepancies} new discrepancies, "
                f"{outcome.actions_applied} actions applied"
            )
        for klass, count in sorted(outcome.counts.items()):
            self.stdout.write(f"  {klass:<30} {count}")
