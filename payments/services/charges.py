"""Recording a charge: the provider says it took the money for a payment.

Every path that learns of a charge (the provider's notification, a status-poll answer,
reconciliation accepting a settled payment, staff) records it here, so it is recorded the
same way whatever the order's state:

* the order has no successful payment yet → ``success`` (the order becomes ``paid``);
* another payment of the order already succeeded → ``duplicate`` (``error_code``
  ``duplicate_payment``, the description names the payment that keeps the money) and, in the
  same transaction, a full refund with reason ``duplicate_payment`` through the normal refund
  path (``refund.created`` now; the worker hands it to the provider, ``refund.processed``
  follows). The money taken twice goes back without anyone asking, as acquirers such as
  Razorpay do for late payments on paid orders.

The payment row and then its order row are locked (the lock order of
:mod:`payments.services.transitions`, which every success move keeps), so concurrent charges
of one order are decided one after the other and exactly one becomes ``success``. The partial
unique index ``payments_one_success_per_order`` stays the last check.
"""

from __future__ import annotations

from django.db import transaction

from payments.models import Payment
from payments.services.refunds import payment_refundable_amount, refund_create
from payments.services.transitions import (
    TransitionResult,
    order_lock,
    payment_lock,
    payment_sources_for,
    payment_transition,
)
from payments.states import PaymentStatus

DUPLICATE_PAYMENT = "duplicate_payment"


def payment_charge_record(
    *,
    payment_id: str,
    source: str,
    detail: str,
    correction: bool = False,
    provider_reference: str | None = None,
) -> TransitionResult:
    """Record that the provider charged ``payment_id``: ``success``, or ``duplicate`` plus an
    automatic full refund when its order is already paid (see the module). ``correction=True``
    (reconciliation, staff) also moves a ``failed``/``cancelled`` payment. A payment that
    cannot move (already final, or a correction not allowed) is returned unchanged."""
    with transaction.atomic():
        payment = payment_lock(payment_id=payment_id)
        if payment is None:
            raise Payment.DoesNotExist(payment_id)
        if payment.status not in payment_sources_for(PaymentStatus.SUCCESS, correction=correction):
            return TransitionResult(changed=False, obj=payment)
        # Two statements on purpose: a query that waited for this lock still reads with the
        # snapshot it started with, so a success committed by the transaction we waited for
        # is only visible to a statement that starts after the lock is granted.
        order_lock(order_id=payment.order_id)
        keeper = (
            Payment.objects.filter(order_id=payment.order_id, status=PaymentStatus.SUCCESS)
            .exclude(pk=payment.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if keeper is None:
            return payment_transition(
                payment_id=payment_id,
                to_status=PaymentStatus.SUCCESS,
                source=source,
                detail=detail,
                correction=correction,
                provider_reference=provider_reference,
            )
        moved = payment_transition(
            payment_id=payment_id,
            to_status=PaymentStatus.DUPLICATE,
            source=source,
            detail=f"{detail}; the order was already paid by {keeper}: refunded automatically",
            error_code=DUPLICATE_PAYMENT,
            error_description=(
                f"Order {payment.order_id} was already paid by {keeper}; this charge is refunded in full automatically"
            )[:255],
            correction=correction,
            provider_reference=provider_reference,
        )
        refundable = payment_refundable_amount(payment_id=payment_id)
        if refundable > 0:
            refund_create(
                merchant=payment.merchant,
                payment_id=payment_id,
                amount=refundable,
                reason=DUPLICATE_PAYMENT,
                source=source,
            )
    return moved
