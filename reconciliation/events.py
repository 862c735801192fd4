"""Outbox events of reconciliation: ``reconciliation.discrepancy`` (a discrepancy was
found or resolved) and ``reconciliation.completed`` (per merchant with items in a run).

Discrepancy events are built and written by the payments core's lifecycle writer
(:func:`payments.services.transitions.change_build` / ``changes_write``), one at a time or in
bulk (one INSERT per ``BATCH`` rows) inside the run's transaction; the dispatcher is nudged
after commit. A discrepancy has no timeline, and its state machine is reconciliation's own:
every change is announced as ``reconciliation.discrepancy``. The run's completion is not a
lifecycle change of a core object: it is a plain outbox event (``event_record``).
"""

from __future__ import annotations

from django.db.models import F, QuerySet

from payments.models.merchants import Mode
from payments.outbox import event_record
from payments.services.transitions import Change, Lifecycle, change_build, changes_write
from reconciliation.models import Discrepancy, Run
from reconciliation.snapshots import discrepancy_snapshot, run_snapshot

DISCREPANCY_EVENT = "reconciliation.discrepancy"
COMPLETED_EVENT = "reconciliation.completed"

DISCREPANCY = Lifecycle(
    object_type="reconciliation_discrepancy",
    model=Discrepancy,
    moves=None,  # reconciliation's own statuses: each change names DISCREPANCY_EVENT
    snapshot=discrepancy_snapshot,
    data_key="discrepancy",
)

BATCH = 1000


def discrepancy_events_record(*, discrepancies: QuerySet[Discrepancy]) -> int:
    """One event per discrepancy that belongs to a merchant (inside a transaction),
    written in batches of ``BATCH`` rows. Each is in its payment's world (test or live), so
    a live merchant's live endpoints and keys see it; a line we cannot match is test."""
    total = 0
    batch: list[Change] = []
    rows = discrepancies.filter(merchant__isnull=False).annotate(payment_mode=F("payment__mode"))
    for d in rows.iterator(chunk_size=BATCH):
        batch.append(_change(d, mode=d.payment_mode or Mode.TEST))
        if len(batch) >= BATCH:
            changes_write(batch)
            total, batch = total + len(batch), []
    changes_write(batch)
    return total + len(batch)


def discrepancy_event_record(*, discrepancy: Discrepancy) -> None:
    if discrepancy.merchant_id is None:
        return
    mode = discrepancy.payment.mode if discrepancy.payment_id else Mode.TEST
    changes_write([_change(discrepancy, mode=mode)])


def _change(discrepancy: Discrepancy, *, mode: str) -> Change:
    return change_build(
        lifecycle=DISCREPANCY, obj=discrepancy, from_status=None, event_type=DISCREPANCY_EVENT, mode=mode
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
