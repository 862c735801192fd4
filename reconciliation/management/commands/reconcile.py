"""``manage.py reconcile --provider simulator (--date D | --from … --to …) [--file path] [--dry-run]``.

Without ``--file`` the provider's settlement file for the period is fetched. ``--date D`` is
the UTC day D (``--from D --to D+1``). Bounds are ISO-8601 (a date means midnight UTC; a
time without offset is UTC) and ``--to`` is exclusive, so an empty or reversed range is
refused with the command that covers the day the operator probably meant. ``--dry-run``
shows the counts per class and stores nothing, changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import DomainError
from reconciliation.models import SettlementFile
from reconciliation.parsing import SettlementFileError
from reconciliation.services.runs import reconciliation_run


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not an ISO-8601 date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: str) -> tuple[datetime, datetime]:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date takes a day like 2026-01-10, not {value!r}") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _period(options: dict[str, Any]) -> tuple[datetime, datetime]:
    """(start, end) from ``--date`` or from ``--from``/``--to``, refusing empty ranges with
    what to type instead."""
    start_text, end_text = options["period_start"], options["period_end"]
    if options["day"]:
        if start_text or end_text:
            raise CommandError("give either --date or --from/--to, not both")
        return _day(options["day"])
    if not start_text or not end_text:
        raise CommandError("give the period: --date 2026-01-10 for one UTC day, or --from … --to … (end exclusive)")
    start, end = _moment(start_text), _moment(end_text)
    if start >= end:
        next_day = (start + timedelta(days=1)).date().isoformat()
        raise CommandError(
            f"the period must end after it starts: --to is exclusive, so --from {start_text} --to {end_text} "
            f"covers nothing. For the one day {start.date().isoformat()} type --date {start.date().isoformat()} "
            f"(or --from {start.date().isoformat()} --to {next_day})."
        )
    return start, end


class Command(BaseCommand):
    help = "Reconcile a provider's settlement file for a period with our payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", default="simulator")
        parser.add_argument("--date", dest="day", help="one UTC day, e.g. 2026-01-10 (instead of --from/--to)")
        parser.add_argument("--from", dest="period_start", help="start (inclusive), ISO-8601")
        parser.add_argument("--to", dest="period_end", help="end (exclusive), ISO-8601")
        parser.add_argument("--file", dest="path", help="a settlement CSV instead of fetching from the provider")
        parser.add_argument("--dry-run", action="store_true", help="classify and report; store and change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        period_start, period_end = _period(options)
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
                period_start=period_start,
                period_end=period_end,
                content=content,
                filename=filename,
                source=SettlementFile.Source.COMMAND,
                dry_run=options["dry_run"],
            )
        except SettlementFileError as exc:
            raise CommandError(f"settlement file rejected ({exc.reason}): {exc.message}") from None
        except DomainError as exc:
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
