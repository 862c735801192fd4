"""Payments: create (synchronous validation, stored ``pending`` with its first event),
process (the worker hands it to the provider), capture and cancel.

State changes go through :mod:`payments.services.transitions`. Submission to the provider
is driven by the committed ``payment.created`` event (the outbox consumer in
:mod:`payments.services.submission`), and the stuck-payment sweeper re-derives any lost
submission from PostgreSQL (``submitted_at IS NULL`` and no live claim). The provider call
itself runs outside any transaction, between a claim and a record step.
"""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.errors import Conflict, InvalidInput, NotFound
from payments.ids import new_order_id, new_payment_id
from payments.models import Merchant, Order, Payment, PaymentMethod, creation_mode
from payments.providers import get_provider
from payments.providers.base import ProviderNotReached
from payments.selectors.customers import customer_get_for_merchant, payment_method_for_payment
from payments.services.submission import submission_claim
from payments.services.transitions import (
    IMPLICIT_ORDER_STATUS,
    ORDER_FIRST_ATTEMPT,
    PAYMENT,
    change_build,
    changes_write,
    payment_change,
    payment_lock,
    payment_transition,
)
from payments.states import OrderStatus, PaymentStatus
from payments.validation import (
    CardDetails,
    validate_amount,
    validate_callback_url,
    validate_currency,
    validate_method,
    validate_vpa,
)

logger = logging.getLogger("tender.payments")

# Locks the order row, marks a first attempt (ORDER_FIRST_ATTEMPT, a move of the order's
# transition table), and returns what the payment needs, in one statement (the hot path
# counts its queries).
_ORDER_ATTEMPT_SQL = """
UPDATE orders
   SET status = CASE WHEN status = %s THEN %s ELSE status END,
       updated_at = CASE WHEN status = %s THEN now() ELSE updated_at END
 WHERE id = %s AND merchant_id = %s AND mode = COALESCE(%s, mode)
RETURNING amount, currency, status, callback_url, customer_id, mode
"""


def _payment_insert(*, payment: Payment, new_order: bool, source: str) -> None:
    """The hot path's writes in one round trip: [the implicit order +] the payment + its
    ``payment.created`` timeline row and event, as ONE statement (the lifecycle's writer)."""
    rows: list[Order | Payment] = [payment]
    if new_order:
        rows.insert(
            0,
            Order(
                id=payment.order_id,
                merchant_id=payment.merchant_id,
                mode=payment.mode,
                amount=payment.amount,
                currency=payment.currency,
                receipt=None,
                notes={},
                status=IMPLICIT_ORDER_STATUS,
                customer_id=payment.customer_id,
                created_at=payment.created_at,
                updated_at=payment.created_at,
            ),
        )
    change = change_build(
        lifecycle=PAYMENT,
        obj=payment,
        from_status=None,
        detail="Payment created",
        source=source,
        now=payment.created_at,
    )
    changes_write([change], before=rows)


def _order_for_payment(*, merchant: Merchant, order_id: str) -> tuple[int, str, str, str | None, str | None, str]:
    """The order's amount, currency, status, callback URL, customer and mode; an order of
    another mode than the acting key's is as missing as another merchant's."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ORDER_ATTEMPT_SQL,
            [
                *(ORDER_FIRST_ATTEMPT[0], ORDER_FIRST_ATTEMPT[1], ORDER_FIRST_ATTEMPT[0]),
                *(order_id, merchant.pk, merchant.acting_mode),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Order not found", field="order_id")
    return row


def payment_create(
    *,
    merchant: Merchant,
    order_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    method: str | None,
    vpa: str | None = None,
    card: CardDetails | None = None,
    callback_url: str | None = None,
    customer_id: str | None = None,
    payment_method_id: str | None = None,
    source: str = "api",
) -> Payment:
    """Store a ``pending`` payment with its ``payment.created`` event and timeline row in
    one transaction; the outbox then queues it for the provider.

    With ``order_id`` the order (of this merchant, not yet paid) fixes amount and
    currency (and, unless ``callback_url`` is given, the callback URL); without it
    ``amount`` (+ ``currency``) create the order implicitly in the same transaction.
    ``card`` must be validated; only its network and last four digits are stored.
    ``payment_method_id`` (with its ``customer_id``) pays with a saved card or VPA instead
    (:func:`payments.selectors.customers.payment_method_for_payment` says when it may);
    ``customer_id`` alone (or the order's customer) names who gets the receipt.
    Raises ``InvalidInput``/``NotFound`` and writes nothing on bad input. After commit the
    only work left is a nudge of the outbox dispatcher, off the request thread."""
    now = timezone.now()
    saved = None
    if payment_method_id is not None:
        saved = payment_method_for_payment(
            merchant=merchant, payment_method_id=payment_method_id, customer_id=customer_id, now=now
        )
        if method is not None and method != saved.type:
            raise InvalidInput(
                f"method {method!r} does not match the saved {saved.type} method",
                field="method",
                reason="payment_method_type_mismatch",
            )
        method, vpa, card = saved.type, saved.vpa, None
    elif customer_id is not None:
        customer_get_for_merchant(merchant=merchant, customer_id=customer_id, field="customer_id")
    method = validate_method(method)
    if saved is not None:
        pass  # the saved method's own fields, checked when it was saved
    elif method == PaymentMethod.UPI:
        vpa = validate_vpa(vpa)
        card = None
    elif card is None:
        raise InvalidInput("card is required for method card", field="card", reason="required")
    else:
        vpa = None
    callback_url = validate_callback_url(callback_url)
    # With an existing order the order row is locked and checked first, so that needs a
    # transaction. An implicit order's writes are ONE statement (see _PAYMENT_INSERT_SQL),
    # atomic on its own: no BEGIN/COMMIT round trips on the hottest path.
    with transaction.atomic() if order_id is not None else contextlib.nullcontext():
        if order_id is not None:
            order_amount, order_currency, order_status, order_callback_url, order_customer_id, mode = (
                _order_for_payment(merchant=merchant, order_id=order_id)
            )
            if order_status == OrderStatus.PAID:
                raise InvalidInput("Order is already paid", field="order_id", reason="order_already_paid")
            if amount is not None and validate_amount(amount) != order_amount:
                raise InvalidInput("amount does not match the order", field="amount", reason="amount_mismatch")
            if currency is not None and validate_currency(currency) != order_currency:
                raise InvalidInput("currency does not match the order", field="currency", reason="currency_mismatch")
            amount, currency = order_amount, order_currency
            callback_url = callback_url or order_callback_url
            if customer_id is not None and order_customer_id not in (None, customer_id):
                raise InvalidInput(
                    "customer_id does not match the order's customer", field="customer_id", reason="customer_mismatch"
                )
            customer_id = customer_id or order_customer_id
            new_order = False
        else:
            amount = validate_amount(amount)
            currency = validate_currency(currency)
            order_id = new_order_id()
            new_order = True
            mode = creation_mode(merchant)
        payment = Payment(
            id=new_payment_id(),
            merchant_id=merchant.pk,
            mode=mode,  # the order's: a payment lives in its order's world
            order_id=order_id,
            amount=amount,
            currency=currency,
            method=method,
            vpa=vpa,
            card_network=saved.card_network if saved else card.network if card else None,
            card_last4=saved.card_last4 if saved else card.last4 if card else None,
            status=PaymentStatus.PENDING,
            captured=False,
            version=1,
            provider=settings.PAYMENT_PROVIDER,
            callback_url=callback_url,
            customer_id=customer_id,
            payment_method_id=saved.pk if saved else None,
            created_at=now,
            updated_at=now,
        )
        # Its commit nudges the outbox; the consumer in services/submission.py queues it.
        _payment_insert(payment=payment, new_order=new_order, source=source)
    return payment


def payment_process(*, payment_id: str) -> Payment | None:
    """Worker step: hand a pending payment to its provider exactly once.

    Call it outside any transaction: the provider call (network I/O for a real acquirer)
    must hold neither a connection in a transaction nor the payment's row lock.

    1. Claim (one autocommit ``UPDATE … RETURNING``): set ``submission_claimed_at`` if the
       payment is ``pending``, not submitted and not claimed by a live worker. Nothing
       claimed (a duplicate task, another worker holds the lease, cancelled, final) →
       return ``None``. From here on a cancel is refused.
    2. ``provider.submit`` with no transaction open (idempotent per payment id). If it
       raises, our claim is cleared (the sweeper resubmits later) and the error propagates.
       Only a :class:`ProviderNotReached` (the provider provably never got the request)
       makes the payment cancellable again; any other error marks its outcome unknown
       (``submission_outcome_unknown_at``) and it is never cancellable after that.
    3. Record under the row lock (:func:`_payment_submission_record`).

    A worker that dies between 1 and 3 leaves its claim to expire after
    ``PAYMENT_SUBMISSION_LEASE_SECONDS``; the sweeper then submits again."""
    payment = submission_claim(Payment, object_id=payment_id, unsent_column="submitted_at")
    if payment is None:
        return None
    claimed_at = payment.submission_claimed_at
    # Only our own claim is cleared: if our lease expired and another worker re-claimed, its
    # call is in flight and must stay protected from a second submit and from a cancel.
    ours = Payment.objects.filter(pk=payment_id, submission_claimed_at=claimed_at)
    try:
        result = get_provider(payment.provider).submit(payment=payment)
    except ProviderNotReached:
        ours.update(submission_claimed_at=None)
        raise
    except Exception:
        # The request may have reached the provider (a timeout after sending, a dropped
        # connection, or anything else that proves nothing): the payment may exist there, so
        # it stays pending and is never cancellable again; the sweeper asks again with the
        # same id, and the answer, the provider's notification or reconciliation decides.
        # The mark is set whoever holds the claim now: a later call that provably never
        # reached the provider does not undo what this one may have done.
        Payment.objects.filter(pk=payment_id, submission_outcome_unknown_at__isnull=True).update(
            submission_outcome_unknown_at=timezone.now()
        )
        ours.update(submission_claimed_at=None)
        logger.warning("provider submit outcome unknown; the payment stays pending", extra={"payment_id": payment_id})
        raise
    return _payment_submission_record(payment_id=payment_id, reference=result.reference)


def _payment_submission_record(*, payment_id: str, reference: str) -> Payment:
    """Submission step 3: store what the provider answered, under the row lock.

    Still pending and not submitted: ``submitted_at`` + ``provider_reference``, version +1,
    timeline row and ``payment.pending``, claim cleared. Anything else means the payment
    moved on while the provider call was in flight (its notification was applied first, the
    simulator can be that fast, or an overlapping worker recorded it): only a missing
    ``submitted_at``/``provider_reference`` is filled in (neither is in the snapshot, so the
    version stays) and no ``payment.pending`` is written, so no timeline steps back."""
    with transaction.atomic():
        payment = payment_lock(payment_id=payment_id)
        if payment is None:
            raise Payment.DoesNotExist(payment_id)
        now = timezone.now()
        if payment.status == PaymentStatus.PENDING and payment.submitted_at is None:
            return payment_change(
                payment=payment,
                changes={"submitted_at": now, "provider_reference": reference, "submission_claimed_at": None},
                detail="Submitted to the provider",
                source="worker",
            )
        payment.submitted_at = payment.submitted_at or now
        payment.provider_reference = payment.provider_reference or reference
        payment.submission_claimed_at = None
        Payment.objects.filter(pk=payment_id).update(
            submitted_at=payment.submitted_at,
            provider_reference=payment.provider_reference,
            submission_claimed_at=None,
        )
    return payment


def _locked_payment(*, merchant: Merchant, payment_id: str) -> Payment:
    payment = payment_lock(payment_id=payment_id, merchant=merchant)
    if payment is None:
        raise NotFound("Payment not found")
    return payment


def payment_capture(*, merchant: Merchant, payment_id: str, source: str = "api") -> Payment:
    """Capture a ``success`` payment once: ``captured=true``, version +1, ``payment.captured``.
    Anything else is a 400 (``payment_not_capturable`` / ``payment_already_captured``)."""
    with transaction.atomic():
        payment = _locked_payment(merchant=merchant, payment_id=payment_id)
        if payment.status != PaymentStatus.SUCCESS:
            raise InvalidInput(
                f"Only successful payments can be captured (status is {payment.status})",
                reason="payment_not_capturable",
            )
        if payment.captured:
            raise InvalidInput("Payment is already captured", reason="payment_already_captured")
        payment = payment_change(payment=payment, changes={"captured": True}, detail="Payment captured", source=source)
    return payment


def payment_cancel(*, merchant: Merchant, payment_id: str, source: str = "api") -> Payment:
    """Cancel a payment the provider does not have yet; otherwise 409 ``CONFLICT_ERROR``
    (``payment_already_submitted`` once a worker has claimed or submitted it, or a submit
    ended with an unknown outcome; ``payment_not_cancellable`` when final). The row lock
    orders it against the claim of ``payment_process``: a cancel that commits first makes
    the claim match nothing."""
    with transaction.atomic():
        payment = _locked_payment(merchant=merchant, payment_id=payment_id)
        if payment.status != PaymentStatus.PENDING:
            raise Conflict(f"Payment is {payment.status} and cannot be cancelled", reason="payment_not_cancellable")
        # A claim means a worker is handing it over (or died doing so): the provider may have
        # it already, so only a claim cleared by a submit that provably never reached the
        # provider makes it cancellable again.
        if payment.submitted_at is not None or payment.submission_claimed_at is not None:
            raise Conflict(
                "The provider already has this payment; it can no longer be cancelled",
                reason="payment_already_submitted",
            )
        if payment.submission_outcome_unknown_at is not None:
            raise Conflict(
                "The provider may already have this payment (its submission's outcome is not known yet); "
                "it can no longer be cancelled",
                reason="payment_already_submitted",
            )
        result = payment_transition(
            payment_id=payment.pk, to_status=PaymentStatus.CANCELLED, source=source, detail="Cancelled by merchant"
        )
    return result.obj
