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
from typing import TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from common.correlation import correlation_scope
from common.tasks import task_send
from payments.models import Event, Payment
from payments.providers import get_provider
from payments.providers.base import ProviderNotReached, SubmitResult
from payments.services.transitions import payment_record_events
from payments.states import PaymentStatus

logger = logging.getLogger("tender.submission")

# At most this many submissions per task: one dispatch batch (up to 200 events) is spread
# over several messages, so the payments workers share it and one slow provider call
# delays at most this many others.
SUBMISSIONS_PER_TASK = 25

# event type -> name of the batch task that submits that object
_SUBMITTED_BY = {
    "payment.created": "payments.tasks.payment_process_batch",
    "refund.created": "payments.tasks.refund_process_batch",
}


def provider_submissions_enqueue(events: Sequence[Event]) -> None:
    """Outbox consumer: queue provider submission for every created payment and refund."""
    batches: dict[str, list[list[str | None]]] = {}
    for event in events:
        task_name = _SUBMITTED_BY.get(event.type)
        if task_name is not None:
            batches.setdefault(task_name, []).append([event.object_id, event.correlation_id])
    for task_name, items in batches.items():
        for start in range(0, len(items), SUBMISSIONS_PER_TASK):
            chunk = items[start : start + SUBMISSIONS_PER_TASK]
            transaction.on_commit(partial(_publish, task_name, chunk))


def _publish(task_name: str, items: list[list[str | None]]) -> None:
    try:
        task_send(task_name, items)
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


# --- the batched submission step (the worker's hot path) -----------------------------------
# payment_process (payments/services/payments.py) hands one payment over in three steps:
# claim, provider call, record. A payment_process_batch task does the same three steps for
# its whole batch at once: one claim statement, one provider call (``submit_batch`` when the
# provider has it, else one ``submit`` each), one record transaction. Same rules per payment:
# the lease fences the call; a failure that proves nothing (anything but ProviderNotReached)
# marks the outcome unknown and keeps it pending; a payment whose notification overtook the
# record step only gets its missing submitted_at / provider_reference.
_BATCH_CLAIM_SQL = """
UPDATE payments SET submission_claimed_at = %(now)s
 WHERE id = ANY(%(ids)s) AND status = 'pending' AND submitted_at IS NULL
   AND (submission_claimed_at IS NULL OR submission_claimed_at <= %(expired)s)
RETURNING *
"""
# The record step for the payments still pending and unsubmitted (their rows locked by the
# caller): provider reference, submitted_at, claim cleared, version + 1, in one statement.
_BATCH_RECORD_SQL = """
UPDATE payments AS p
   SET submitted_at = %(now)s, provider_reference = v.reference, submission_claimed_at = NULL,
       version = p.version + 1, updated_at = %(now)s
  FROM unnest(%(ids)s::text[], %(references)s::text[]) AS v(id, reference)
 WHERE p.id = v.id
"""
# Those that moved on while the provider call was in flight keep their status and version.
_BATCH_FILL_IN_SQL = """
UPDATE payments AS p
   SET submitted_at = COALESCE(p.submitted_at, %(now)s),
       provider_reference = COALESCE(p.provider_reference, v.reference), submission_claimed_at = NULL
  FROM unnest(%(ids)s::text[], %(references)s::text[]) AS v(id, reference)
 WHERE p.id = v.id
"""
SubmitOutcome = SubmitResult | Exception


def payment_submissions_process(*, items: Sequence[Sequence[str | None]]) -> list[Payment]:
    """Worker step for ``[payment_id, correlation_id]`` items: claim them in one statement,
    hand the claimed ones to their provider with no transaction open, record the answers in
    one transaction. Returns the payments recorded as submitted; a payment that cannot be
    claimed (duplicate task, live claim elsewhere, cancelled, final, already sent) is
    skipped, and one whose submit failed is left to the sweeper (claim cleared), exactly as
    :func:`payments.services.payments.payment_process` would. A worker killed anywhere in
    here leaves its claims to expire; the sweeper then submits those payments again."""
    correlation = {payment_id: correlation_id for payment_id, correlation_id in items}
    now = timezone.now()
    claimed = list(
        Payment.objects.raw(
            _BATCH_CLAIM_SQL,
            {"ids": sorted(correlation), "now": now, "expired": submission_claims_expired_before(now)},
        )
    )
    if not claimed:
        return []
    by_provider: dict[str, list[Payment]] = {}
    for payment in claimed:
        by_provider.setdefault(payment.provider, []).append(payment)
    answers: dict[str, SubmitOutcome] = {}
    for provider_name, payments in by_provider.items():
        answers.update(_provider_submit(provider_name, payments))
    submitted = {pid: answer.reference for pid, answer in answers.items() if isinstance(answer, SubmitResult)}
    failed = {pid: answer for pid, answer in answers.items() if not isinstance(answer, SubmitResult)}
    if failed:
        _submissions_failed(failed, claimed_at=now, correlation=correlation)
    if not submitted:
        return []
    return _submissions_record(submitted, correlation=correlation)


def _provider_submit(provider_name: str, payments: list[Payment]) -> dict[str, SubmitOutcome]:
    """One call for the batch when the provider takes batches, else one call per payment;
    what each payment got: its result, or the exception its submit raised."""
    try:
        provider = get_provider(provider_name)
        submit_batch = getattr(provider, "submit_batch", None)
        if submit_batch is not None:
            return submit_batch(payments=payments)
    except Exception as exc:  # noqa: BLE001 - proves nothing about any of them: outcome unknown
        return dict.fromkeys((p.id for p in payments), exc)
    answers: dict[str, SubmitOutcome] = {}
    for payment in payments:
        try:
            answers[payment.id] = provider.submit(payment=payment)
        except Exception as exc:  # noqa: BLE001 - recorded per payment below
            answers[payment.id] = exc
    return answers


def _submissions_failed(
    failed: dict[str, Exception], *, claimed_at: datetime, correlation: dict[str, str | None]
) -> None:
    """Clear our own claims (a newer one belongs to a live worker); unless the error proves
    the provider never got the request, mark the outcome unknown (never cancellable again)."""
    unknown = [pid for pid, exc in failed.items() if not isinstance(exc, ProviderNotReached)]
    if unknown:
        Payment.objects.filter(pk__in=unknown, submission_outcome_unknown_at__isnull=True).update(
            submission_outcome_unknown_at=timezone.now()
        )
    Payment.objects.filter(pk__in=list(failed), submission_claimed_at=claimed_at).update(submission_claimed_at=None)
    for payment_id, exc in failed.items():
        with correlation_scope(correlation.get(payment_id)):
            logger.warning(
                "provider submit failed; the sweeper resubmits"
                + ("" if isinstance(exc, ProviderNotReached) else " (outcome unknown: the payment stays pending)"),
                extra={"payment_id": payment_id, "error": type(exc).__name__},
            )


def _submissions_record(submitted: dict[str, str], *, correlation: dict[str, str | None]) -> list[Payment]:
    """The record step for the batch, under the rows' locks (taken in id order, as every
    batch takes them), in one transaction: one UPDATE for the fresh ones, their timeline
    rows and ``payment.pending`` events in one INSERT each, one UPDATE for the others."""
    with transaction.atomic():
        locked = list(Payment.objects.select_for_update().filter(pk__in=list(submitted)).order_by("pk"))
        now = timezone.now()
        fresh = [p for p in locked if p.status == PaymentStatus.PENDING and p.submitted_at is None]
        moved_on = [p for p in locked if p not in fresh]
        with connection.cursor() as cursor:
            if fresh:
                cursor.execute(
                    _BATCH_RECORD_SQL,
                    {"now": now, "ids": [p.id for p in fresh], "references": [submitted[p.id] for p in fresh]},
                )
            if moved_on:
                cursor.execute(
                    _BATCH_FILL_IN_SQL,
                    {"now": now, "ids": [p.id for p in moved_on], "references": [submitted[p.id] for p in moved_on]},
                )
        for payment in fresh:
            payment.submitted_at, payment.provider_reference = now, submitted[payment.id]
            payment.submission_claimed_at, payment.version, payment.updated_at = None, payment.version + 1, now
        for payment in moved_on:
            payment.submitted_at = payment.submitted_at or now
            payment.provider_reference = payment.provider_reference or submitted[payment.id]
            payment.submission_claimed_at = None
        if fresh:
            payment_record_events(
                payments=fresh,
                event_type="payment.pending",
                from_status=PaymentStatus.PENDING,
                detail="Submitted to the provider",
                source="worker",
                correlation=correlation,
            )
    return fresh + moved_on
