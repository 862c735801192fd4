"""The stuck-payment sweeper (Beat): the fallback for lost messages.

* A payment (or refund) never handed to the provider (the queue lost its task, or the
  submit failed) is processed again after ``PAYMENT_RESUBMIT_AFTER_SECONDS``. One a worker
  has claimed is skipped while the claim is live (that worker is calling the provider) and
  taken up once it is older than ``PAYMENT_SUBMISSION_LEASE_SECONDS`` (the worker died).
* A payment (or refund) the provider has had for ``PAYMENT_STUCK_AFTER_SECONDS`` without
  a notification is asked about with ``get_status``; a final answer is applied like a
  webhook, an unknown one leaves it ``pending`` (never ``failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from payments.models import Payment, Refund
from payments.providers import get_provider
from payments.providers.base import ProviderError
from payments.services.payments import payment_process
from payments.services.provider_events import provider_outcome_apply
from payments.services.refunds import refund_process
from payments.services.submission import submission_claims_expired_before
from payments.states import PaymentStatus, RefundStatus

logger = logging.getLogger("tender.stuck")


@dataclass
class SweepReport:
    resubmitted: list[str] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    settled: dict[str, str] = field(default_factory=dict)


def payments_stuck_sweep(
    *, stuck_after: timedelta | None = None, resubmit_after: timedelta | None = None, limit: int = 1000
) -> SweepReport:
    """One pass of the sweeper; each class of work is capped at ``limit`` rows, oldest first."""
    now = timezone.now()
    stuck_after = timedelta(seconds=settings.PAYMENT_STUCK_AFTER_SECONDS) if stuck_after is None else stuck_after
    if resubmit_after is None:
        resubmit_after = timedelta(seconds=settings.PAYMENT_RESUBMIT_AFTER_SECONDS)
    report = SweepReport()
    unclaimed = Q(submission_claimed_at__isnull=True) | Q(
        submission_claimed_at__lte=submission_claims_expired_before(now)
    )

    unsubmitted = (
        Payment.objects.filter(
            unclaimed, status=PaymentStatus.PENDING, submitted_at__isnull=True, created_at__lte=now - resubmit_after
        )
        .order_by("created_at")  # the model's default is newest first
        .values_list("id", flat=True)[:limit]
    )
    for payment_id in unsubmitted:
        if _resubmit(payment_process, payment_id=payment_id):
            report.resubmitted.append(payment_id)
    unsent_refunds = (
        Refund.objects.filter(
            unclaimed,
            status=RefundStatus.PENDING,
            provider_reference__isnull=True,
            created_at__lte=now - resubmit_after,
        )
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    for refund_id in unsent_refunds:
        if _resubmit(refund_process, refund_id=refund_id):
            report.resubmitted.append(refund_id)

    stuck = (
        Payment.objects.filter(
            status=PaymentStatus.PENDING, submitted_at__lte=now - stuck_after, provider_reference__isnull=False
        )
        .order_by("submitted_at")
        .values_list("id", "provider", "provider_reference")[:limit]
    )
    refunds = (
        Refund.objects.filter(
            status=RefundStatus.PENDING, provider_reference__isnull=False, updated_at__lte=now - stuck_after
        )
        .order_by("updated_at")
        .values_list("id", "payment__provider", "provider_reference")[:limit]
    )
    for object_type, queryset in (("payment", stuck), ("refund", refunds)):
        rows = list(queryset)
        report.polled.extend(object_id for object_id, _, _ in rows)
        report.settled.update(_poll(object_type=object_type, rows=rows))
    return report


def _resubmit(process: Callable[..., object], **object_id: str) -> bool:
    """Run one process step; ``False`` if another worker holds it or the provider failed
    (the step has cleared its claim, so a later pass tries again)."""
    try:
        return process(**object_id) is not None
    except Exception:  # one unreachable submission must not stop the sweep (nor the polls after it)
        logger.exception("resubmission failed; the next sweep retries", extra=object_id)
        return False


def _poll(*, object_type: str, rows: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Ask the provider about each ``(object_id, provider, reference)``; apply final answers."""
    settled: dict[str, str] = {}
    for object_id, provider_name, reference in rows:
        try:
            answer = get_provider(provider_name).get_status(reference=reference)
        except ProviderError:
            logger.warning("provider status query failed", extra={"object_id": object_id})
            continue
        if not answer.is_final:
            continue  # unknown stays pending: never guess "failed"
        result, _ = provider_outcome_apply(
            object_type=object_type,
            object_id=object_id,
            status=answer.status,
            source="status_poll",
            error_code=answer.error_code,
            error_description=answer.error_description,
        )
        settled[object_id] = f"{answer.status}:{result}"
    return settled


def payment_poll_provider(*, payment_ids: list[str]) -> dict[str, str]:
    """Staff action: ask the provider about these pending, submitted payments right now."""
    rows = Payment.objects.filter(
        pk__in=payment_ids, status=PaymentStatus.PENDING, provider_reference__isnull=False
    ).values_list("id", "provider", "provider_reference")
    return _poll(object_type="payment", rows=list(rows))
