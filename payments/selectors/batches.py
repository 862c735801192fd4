"""Read side of payment batches: merchant-scoped lookups, counts and failures derived from
the batch's payments (one grouped query each; nothing is counted twice)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from common.errors import NotFound
from payments.models import Merchant, Payment, PaymentBatch, merchant_scope
from payments.states import PaymentStatus

# A batch item that did not end in success: declined, cancelled, or charged twice and refunded.
FAILED_STATUSES = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.DUPLICATE)


def batch_get_for_merchant(*, merchant: Merchant, batch_id: str) -> PaymentBatch:
    batch = PaymentBatch.objects.filter(pk=batch_id, **merchant_scope(merchant)).first()
    if batch is None:
        raise NotFound("Batch not found")
    return batch


def batch_counts(*, batch: PaymentBatch) -> dict[str, int]:
    by_status = dict(
        Payment.objects.filter(batch=batch).values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return _tally(by_status)


def batch_list_recent_for_merchant(*, merchant: Merchant, limit: int = 20) -> list[tuple[PaymentBatch, dict[str, int]]]:
    """The merchant's newest batches with their counts: two queries however many batches."""
    batches = list(PaymentBatch.objects.filter(**merchant_scope(merchant)).order_by("-created_at")[:limit])
    by_batch: dict[str, dict[str, int]] = {b.pk: {} for b in batches}
    rows = (
        Payment.objects.filter(batch__in=batches)
        .values("batch_id", "status")
        .annotate(n=Count("id"))
        .values_list("batch_id", "status", "n")
        .order_by()
    )
    for batch_id, status, n in rows:
        by_batch[batch_id][status] = n
    return [(b, _tally(by_batch[b.pk])) for b in batches]


def _tally(by_status: dict[str, int]) -> dict[str, int]:
    return {
        "success": by_status.get(PaymentStatus.SUCCESS, 0),
        "failed": sum(by_status.get(s, 0) for s in FAILED_STATUSES),
        "pending": by_status.get(PaymentStatus.PENDING, 0),
    }


def batch_failed_items(*, batch: PaymentBatch) -> list[dict[str, str | None]]:
    rows = (
        Payment.objects.filter(batch=batch, status__in=FAILED_STATUSES)
        .order_by("reference")
        .values_list("id", "reference", "status", "error_code")
    )
    return [
        {"payment_id": pid, "reference": ref, "status": status, "error_code": code or status}
        for pid, ref, status, code in rows
    ]


def batch_payments(*, batch: PaymentBatch) -> QuerySet[Payment]:
    return Payment.objects.filter(batch=batch).order_by("reference", "id")
