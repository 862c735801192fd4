"""Handing new payments and refunds to the provider, driven by the outbox.

``payment.created`` and ``refund.created`` events are committed with the object itself;
this outbox consumer (registered in ``PaymentsConfig.ready``) turns each dispatched batch
of them into ``payment_process_batch`` / ``refund_process_batch`` tasks (``SUBMISSIONS_PER_TASK``
items each), published after the dispatcher's transaction commits. The API process therefore publishes nothing per
payment: its only after-commit work is the (gated, coalesced) outbox nudge.

Every item carries its event's correlation id, so the worker logs under the id of the
request that created the object. A lost publish is re-derived from PostgreSQL by the
stuck-payment sweeper (``submitted_at IS NULL`` / ``provider_reference IS NULL``); a
duplicate is a no-op (the process step claims the row first; see payment_process).

The claim itself (``submission_claim``) and its lease are shared by ``payment_process``,
``refund_process`` and the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from payments.models import Event

logger = logging.getLogger("tender.submission")

# At most this many submissions per task: one dispatch batch (up to 200 events) is spread
# over several messages, so the payments workers share it and one slow provider call
# delays at most this many others.
SUBMISSIONS_PER_TASK = 25

# event type -> name of the batch task that submits that object
_SUBMITTED_BY = {
    "payment.created": "payment_process_batch",
    "refund.created": "refund_process_batch",
}


def provider_submissions_enqueue(events: Sequence[Event]) -> None:
    """Outbox consumer: queue provider submission for every created payment and refund."""
    from payments import tasks

    batches: dict[str, list[list[str | None]]] = {}
    for event in events:
        task_name = _SUBMITTED_BY.get(event.type)
        if task_name is not None:
            batches.setdefault(task_name, []).append([event.object_id, event.correlation_id])
    for task_name, items in batches.items():
        for start in range(0, len(items), SUBMISSIONS_PER_TASK):
            chunk = items[start : start + SUBMISSIONS_PER_TASK]
            transaction.on_commit(partial(_publish, getattr(tasks, task_name), chunk))


def _publish(task: Any, items: list[list[str | None]]) -> None:
    try:
        task.delay(items)
    except Exception:  # noqa: BLE001 - broker down: the stuck-payment sweeper resubmits
        logger.warning("could not queue provider submissions; the sweeper will", extra={"count": len(items)})


# The claim of a worker's submission step, for payments and refunds alike: one autocommit
# statement takes the lease on the provider call. Only a pending object the provider does
# not have yet (``unsent_column`` NULL), with no live claim, can be claimed; a cancel that
# won the row lock first has made it not pending.
_CLAIM_SQL = """
UPDATE {table} SET submission_claimed_at = %(now)s
 WHERE id = %(id)s AND status = 'pending' AND {unsent_column} IS NULL
   AND (submission_claimed_at IS NULL OR submission_claimed_at <= %(expired)s)
RETURNING *
"""
M = TypeVar("M", bound=models.Model)


def submission_claims_expired_before(now: datetime) -> datetime:
    """Claims taken before this have outlived ``PAYMENT_SUBMISSION_LEASE_SECONDS``: their
    worker died mid-call, and the object may be claimed again."""
    return now - timedelta(seconds=settings.PAYMENT_SUBMISSION_LEASE_SECONDS)


def submission_claim(model: type[M], *, object_id: str, unsent_column: str) -> M | None:
    """Take the lease on ``object_id``'s provider call; ``None`` if it cannot be claimed (a
    duplicate task, another worker holds the lease, cancelled, final, already sent)."""
    now = timezone.now()
    sql = _CLAIM_SQL.format(table=model._meta.db_table, unsent_column=unsent_column)
    claimed = model.objects.raw(sql, {"id": object_id, "now": now, "expired": submission_claims_expired_before(now)})
    return next(iter(claimed), None)
