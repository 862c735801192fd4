"""Outbox events of reconciliation: ``reconciliation.discrepancy`` (a discrepancy was
found or resolved) and ``reconciliation.completed`` (per merchant with items in a run).

Discrepancy events are written in bulk (one INSERT for thousands of rows) inside the run's
transaction; after commit the live consumers get them and the dispatcher is nudged once,
exactly what :func:`payments.outbox.event_record` does per event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction

from payments.correlation import get_correlation_id
from payments.models import Event
from payments.outbox import consumers, event_record, outbox_nudge
from reconciliation.models import Discrepancy, Run
from reconciliation.snapshots import discrepancy_snapshot, run_snapshot

logger = logging.getLogger("tender.reconciliation")

DISCREPANCY_EVENT = "reconciliation.discrepancy"
COMPLETED_EVENT = "reconciliation.completed"


def discrepancy_events_record(*, discrepancies: Sequence[Discrepancy]) -> int:
    """One event per discrepancy that belongs to a merchant (inside a transaction)."""
    correlation_id = get_correlation_id()
    events = [
        Event(
            merchant_id=d.merchant_id,
            type=DISCREPANCY_EVENT,
            object_type="reconciliation_discrepancy",
            object_id=d.id,
            version=d.version,
            data={"discrepancy": discrepancy_snapshot(d)},
            correlation_id=correlation_id,
        )
        for d in discrepancies
        if d.merchant_id is not None
    ]
    if not events:
        return 0
    Event.objects.bulk_create(events, batch_size=1000)
    transaction.on_commit(lambda: _after_commit(events))
    return len(events)


def discrepancy_event_record(*, discrepancy: Discrepancy) -> None:
    if discrepancy.merchant_id is None:
        return
    event_record(
        merchant_id=discrepancy.merchant_id,
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


def _after_commit(events: list[Event]) -> None:
    for consumer in consumers(durable=False):
        try:
            consumer.handler(events)
        except Exception:
            logger.exception("live outbox consumer failed", extra={"consumer": consumer.name})
    if consumers(durable=True):
        outbox_nudge()
