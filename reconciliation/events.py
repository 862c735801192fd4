"""Outbox events of reconciliation: ``reconciliation.discrepancy`` (a discrepancy was
found or resolved) and ``reconciliation.completed`` (per merchant with items in a run).

Discrepancy events are written in bulk (one INSERT for thousands of rows) inside the run's
transaction; after commit the dispatcher is nudged once
(:func:`payments.outbox.outbox_nudge_after_commit`, what ``event_record`` does per event).
"""

from __future__ import annotations

from django.db.models import F, QuerySet

from common.correlation import get_correlation_id
from payments.models import Event
from payments.models.merchants import Mode
from payments.outbox import event_record, outbox_nudge_after_commit
from reconciliation.models import Discrepancy, Run
from reconciliation.snapshots import discrepancy_snapshot, run_snapshot

DISCREPANCY_EVENT = "reconciliation.discrepancy"
COMPLETED_EVENT = "reconciliation.completed"


BATCH = 1000


def discrepancy_events_record(*, discrepancies: QuerySet[Discrepancy]) -> int:
    """One event per discrepancy that belongs to a merchant (inside a transaction),
    written in batches of ``BATCH`` rows. Each is in its payment's world (test or live), so
    a live merchant's live endpoints and keys see it; a line we cannot match is test."""
    correlation_id = get_correlation_id()
    total = 0
    batch: list[Event] = []
    rows = discrepancies.filter(merchant__isnull=False).annotate(payment_mode=F("payment__mode"))
    for d in rows.iterator(chunk_size=BATCH):
        batch.append(
            Event(
                merchant_id=d.merchant_id,
                mode=d.payment_mode or Mode.TEST,
                type=DISCREPANCY_EVENT,
                object_type="reconciliation_discrepancy",
                object_id=d.id,
                version=d.version,
                data={"discrepancy": discrepancy_snapshot(d)},
                correlation_id=correlation_id,
            )
        )
        if len(batch) >= BATCH:
            total += _flush(batch)
            batch = []
    total += _flush(batch)
    if total:
        outbox_nudge_after_commit()
    return total


def _flush(batch: list[Event]) -> int:
    if not batch:
        return 0
    Event.objects.bulk_create(batch)
    return len(batch)


def discrepancy_event_record(*, discrepancy: Discrepancy) -> None:
    if discrepancy.merchant_id is None:
        return
    event_record(
        merchant_id=discrepancy.merchant_id,
        mode=discrepancy.payment.mode if discrepancy.payment_id else Mode.TEST,
        type=DISCREPANCY_EVENT,
        object_type="reconciliation_discrepancy",
        object_id=discrepancy.id,
        version=discrepancy.version,
        data={"discrepancy": discrepancy_snapshot(discrepancy)},
    )


def completed_event_record(*, run: Run, merchant_id: object, counts: dict[str, int]) -> None:
    event_record(
        merchant_id=merchant_id,
        type=COMPLETED_EVENT,
        object_type="reconciliation_run",
        object_id=run.id,
        version=1,
        data={"reconciliation_run": run_snapshot(run, counts=counts)},
    )
