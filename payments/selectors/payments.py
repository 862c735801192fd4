"""Read side of orders, payments and refunds. Every lookup is merchant-scoped: another
merchant's object is indistinguishable from a missing one (``NotFound``)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from django.db.models import Model, QuerySet

from common.errors import NotFound
from payments.models import Merchant, Order, Payment, Refund, TimelineEntry, merchant_scope

RowT = TypeVar("RowT", bound=Model)


def order_get_for_merchant(*, merchant: Merchant, order_id: str) -> Order:
    order = Order.objects.filter(pk=order_id, **merchant_scope(merchant)).first()
    if order is None:
        raise NotFound("Order not found")
    return order


def order_get_public(*, order_id: str) -> Order:
    """The hosted checkout's view: the order id itself is the capability. A deactivated
    merchant's orders are gone here too (its API keys and checkout page already refuse)."""
    order = Order.objects.select_related("merchant").filter(pk=order_id, merchant__is_active=True).first()
    if order is None:
        raise NotFound("Order not found")
    return order


def order_list_for_merchant(*, merchant: Merchant) -> QuerySet[Order]:
    return Order.objects.filter(**merchant_scope(merchant)).order_by("-created_at", "-id")


def payment_get_for_merchant(*, merchant: Merchant, payment_id: str) -> Payment:
    payment = Payment.objects.filter(pk=payment_id, **merchant_scope(merchant)).first()
    if payment is None:
        raise NotFound("Payment not found")
    return payment


def payment_get_public(*, payment_id: str) -> Payment:
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise NotFound("Payment not found")
    return payment


def newest_first_in_window(
    *, qs: QuerySet[RowT], created_after: datetime | None, created_before: datetime | None
) -> QuerySet[RowT]:
    """``qs`` created in ``[created_after, created_before)`` (either bound optional), newest
    first with the id as tie-break: the one listing order cursor pages rely on."""
    if created_after is not None:
        qs = qs.filter(created_at__gte=created_after)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    return qs.order_by("-created_at", "-id")


def payment_list_for_merchant(
    *,
    merchant: Merchant,
    status: str | None = None,
    method: str | None = None,
    order_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Payment]:
    """The merchant's payments, newest first, filtered; ``created_after`` is inclusive and
    ``created_before`` exclusive."""
    qs = Payment.objects.filter(**merchant_scope(merchant))
    if status is not None:
        qs = qs.filter(status=status)
    if method is not None:
        qs = qs.filter(method=method)
    if order_id is not None:
        qs = qs.filter(order_id=order_id)
    return newest_first_in_window(qs=qs, created_after=created_after, created_before=created_before)


def payment_version_get(*, merchant: Merchant, payment_id: str) -> int | None:
    """The cheapest possible change check for long-polling (one indexed SELECT)."""
    return Payment.objects.filter(pk=payment_id, **merchant_scope(merchant)).values_list("version", flat=True).first()


def payment_timeline(*, payment: Payment) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(object_id=payment.id, object_type="payment").order_by("version"))


def refund_list_for_merchant(
    *,
    merchant: Merchant,
    payment_id: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Refund]:
    """The merchant's refunds, newest first, filtered; ``created_after`` is inclusive and
    ``created_before`` exclusive. Another merchant's payment id simply matches nothing."""
    qs = Refund.objects.filter(**merchant_scope(merchant))
    if payment_id is not None:
        qs = qs.filter(payment_id=payment_id)
    if status is not None:
        qs = qs.filter(status=status)
    return newest_first_in_window(qs=qs, created_after=created_after, created_before=created_before)


def refund_get_for_merchant(*, merchant: Merchant, refund_id: str) -> Refund:
    refund = Refund.objects.filter(pk=refund_id, **merchant_scope(merchant)).first()
    if refund is None:
        raise NotFound("Refund not found")
    return refund
