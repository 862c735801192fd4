"""Reconciliation runs: fetch or receive a settlement file, import it once, classify it in
SQL, then apply the merchants' policies and announce the result.

``reconciliation_run`` is what Beat, the ``reconcile`` command and the admin upload call.
Side effects, in order:

1. one transaction: the file row (unique checksum), its lines (COPY), the run, per-merchant
   counts, discrepancies (deduplicated across runs), ``reconciliation.discrepancy`` events;
   a bad file raises :class:`SettlementFileError` and this transaction leaves nothing;
2. automatic actions, one small transaction each (:mod:`reconciliation.services.actions`);
3. the run is marked completed and each merchant with items in it gets a
   ``reconciliation.completed`` event.

Importing bytes that were imported before (same provider and period) is a no-op returning
the earlier run. A crash
between 1 and 3 leaves the run ``classified``; running it again (any later run, or
``run_finish``) picks up its open discrepancies, and actions never apply twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from payments.providers import get_provider
from reconciliation.classify import items_classify, items_counts, items_store, lines_copy
from reconciliation.events import completed_event_record, discrepancy_events_record
from reconciliation.models import Discrepancy, Run, RunCount, SettlementFile
from reconciliation.parsing import SettlementFileError, settlement_file_check, settlement_rows
from reconciliation.services.actions import run_actions_apply

logger = logging.getLogger("tender.reconciliation")


@dataclass
class RunOutcome:
    run: Run | None
    counts: dict[str, int] = field(default_factory=dict)
    line_count: int = 0
    new_discrepancies: int = 0
    actions_applied: int = 0
    already_imported: bool = False
    dry_run: bool = False
    # Seconds per step of the import: load (parse + COPY), classify, store.
    timings: dict[str, float] = field(default_factory=dict)


class _DryRunRollback(Exception):
    """Raised to roll back a dry run after its counts are known."""


def reconciliation_run(
    *,
    provider: str,
    period_start: datetime,
    period_end: datetime,
    content: bytes | None = None,
    filename: str = "",
    source: str = SettlementFile.Source.COMMAND,
    dry_run: bool = False,
) -> RunOutcome:
    """Reconcile one period: fetch the provider's file unless ``content`` is given."""
    if timezone.is_naive(period_start) or timezone.is_naive(period_end):
        raise ValueError("period bounds must be timezone-aware")
    if period_start >= period_end:
        raise SettlementFileError("the period must end after it starts", reason="bad_period")
    if content is None:
        content = get_provider(provider).fetch_settlement(period_start=period_start, period_end=period_end)
        filename = filename or f"{provider}-{period_start:%Y%m%dT%H%M}-{period_end:%Y%m%dT%H%M}.csv"
    outcome = settlement_import(
        provider=provider,
        period_start=period_start,
        period_end=period_end,
        content=content,
        filename=filename,
        source=source,
        dry_run=dry_run,
    )
    if outcome.run is not None and not dry_run and outcome.run.status != Run.Status.COMPLETED:
        outcome.actions_applied = run_finish(run_id=outcome.run.id)
        outcome.run.refresh_from_db()
    return outcome


def settlement_import(
    *,
    provider: str,
    period_start: datetime,
    period_end: datetime,
    content: bytes,
    filename: str,
    source: str,
    dry_run: bool = False,
) -> RunOutcome:
    """Step 1: validate, store and classify a file in one transaction (see the module)."""
    settlement_file_check(content)
    checksum = hashlib.sha256(content).hexdigest()
    same_file = {
        "file__provider": provider,
        "file__checksum": checksum,
        "file__period_start": period_start,
        "file__period_end": period_end,
    }
    existing = Run.objects.filter(**same_file).select_related("file").first()
    if existing is not None:
        return RunOutcome(run=existing, counts=existing.counts, already_imported=True, dry_run=dry_run)
    started = time.monotonic()
    outcome = RunOutcome(run=None, dry_run=dry_run)
    try:
        with transaction.atomic():
            file = _file_claim(
                provider=provider,
                checksum=checksum,
                filename=filename,
                size=len(content),
                period_start=period_start,
                period_end=period_end,
                source=source,
            )
            if file is None:  # a concurrent import of the same bytes won the race
                existing = Run.objects.select_related("file").get(**same_file)
                return RunOutcome(run=existing, counts=existing.counts, already_imported=True, dry_run=dry_run)
            step = time.monotonic()
            line_count = lines_copy(file_id=file.id, rows=settlement_rows(content))
            outcome.timings["load"] = time.monotonic() - step
            SettlementFile.objects.filter(pk=file.pk).update(line_count=line_count)
            outcome.line_count = line_count
            step = time.monotonic()
            items_classify(file_id=file.id, provider=provider, period_start=period_start, period_end=period_end)
            outcome.timings["classify"] = time.monotonic() - step
            if dry_run:
                outcome.counts = items_counts()
                raise _DryRunRollback
            run = Run.objects.create(provider=provider, file=file, period_start=period_start, period_end=period_end)
            step = time.monotonic()
            counts, new, closed = items_store(run_id=run.id, provider=provider)
            changed = Discrepancy.objects.filter(run_id=run.id) | Discrepancy.objects.filter(id__in=closed)
            discrepancy_events_record(discrepancies=changed.order_by("created_at", "id"))
            outcome.timings["store"] = time.monotonic() - step
            Run.objects.filter(pk=run.pk).update(
                counts=counts, new_discrepancies=new, duration_ms=int((time.monotonic() - started) * 1000)
            )
            run.refresh_from_db()
            outcome.run, outcome.counts, outcome.new_discrepancies = run, counts, new
    except _DryRunRollback:
        pass
    logger.info(
        "settlement file imported",
        extra={"provider": provider, "checksum": checksum, "lines": outcome.line_count, "dry_run": dry_run},
    )
    return outcome


def _file_claim(
    *,
    provider: str,
    checksum: str,
    filename: str,
    size: int,
    period_start: datetime,
    period_end: datetime,
    source: str,
) -> SettlementFile | None:
    """Insert the file row, or return None when these bytes were already imported for this
    provider and period (a unique constraint decides, so two concurrent imports cannot
    both proceed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reconciliation_settlement_files
                (provider, checksum, filename, size, line_count, period_start, period_end, source, imported_at)
            VALUES (%s, %s, %s, %s, 0, %s, %s, %s, now())
            ON CONFLICT (provider, checksum, period_start, period_end) DO NOTHING
            RETURNING id
            """,
            [provider, checksum, filename[:255], size, period_start, period_end, source],
        )
        row = cursor.fetchone()
    return SettlementFile.objects.get(pk=row[0]) if row else None


def run_finish(*, run_id: str) -> int:
    """Steps 2 and 3: apply policies to the run's open discrepancies, mark it completed and
    tell each merchant. Safe to call again; returns the number of actions applied now."""
    applied = run_actions_apply(run_id=run_id)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status == Run.Status.COMPLETED:
            return applied
        run.status = Run.Status.COMPLETED
        run.completed_at = timezone.now()
        run.actions_applied = applied
        run.save(update_fields=["status", "completed_at", "actions_applied"])
        per_merchant: dict[object, dict[str, int]] = {}
        for row in RunCount.objects.filter(run_id=run_id, merchant__isnull=False):
            per_merchant.setdefault(row.merchant_id, {})[row.klass] = row.count
        for merchant_id, counts in per_merchant.items():
            completed_event_record(run=run, merchant_id=merchant_id, counts=counts)
    return applied


def runs_unfinished_finish(*, older_than: timedelta = timedelta(minutes=10)) -> list[str]:
    """Finish runs a crash left ``classified`` (their actions and completion events).
    Called by the Beat tasks before each new run; returns the finished run ids."""
    stale = list(
        Run.objects.filter(status=Run.Status.CLASSIFIED, created_at__lt=timezone.now() - older_than)
        .order_by("created_at")
        .values_list("id", flat=True)
    )
    for run_id in stale:
        run_finish(run_id=run_id)
    return stale
