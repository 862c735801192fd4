"""Read side of payment batches: merchant-scoped lookups, counts and failures derived from
the batch's payments (one grouped query each; nothing is counted twice)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from payments.api.errors import NotFound
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
