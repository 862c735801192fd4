"""Batch payments: up to 1,000 pending payments from one request, in one transaction.

``payment_batch_create`` takes items whose shape the API already validated, checks what
needs the database (orders, saved methods, customers, item references) with one query per
kind, and writes every accepted item in ONE statement (data-modifying CTEs over ``unnest``:
implicit orders, order marks, payments, timeline rows, ``payment.created`` events). The
outbox then hands the payments to the provider exactly as it does single creates. Items
that fail a check are rejected with their index, reference and error; the rest go on.

The batch row is inserted first with ``ON CONFLICT (merchant, reference) DO NOTHING``: the
same reference again returns the first batch, and a concurrent duplicate waits on the
unique index until the first commits.

``batches_complete`` is the outbox consumer (registered in ``PaymentsConfig.ready``) that
notices a batch's last payment becoming final: a compare-and-set ``processing → completed``
(so two dispatchers cannot both complete it) and the ``batch.completed`` event, with the
failed items' payment ids and error codes, through every channel events go through.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.correlation import get_correlation_id
from common.errors import DomainError, InvalidInput, NotFound
from payments.ids import new_event_id, new_order_id, new_payment_id
from payments.models import (
    Customer,
    Event,
    Merchant,
    Payment,
    PaymentBatch,
    SavedPaymentMethod,
    creation_mode,
    merchant_scope,
)
from payments.outbox import event_record, outbox_nudge_after_commit
from payments.selectors.batches import batch_counts, batch_failed_items
from payments.selectors.customers import payment_method_usable
from payments.services.transitions import PAYMENT
from payments.snapshots import batch_snapshot, payment_snapshot
from payments.states import PAYMENT_FINAL, OrderStatus, PaymentStatus

MAX_BATCH_ITEMS = 1000


@dataclass(frozen=True)
class BatchItem:
    """One item as the API validated its shape: an order or an amount, and a VPA or a
    saved method (cards only as saved methods: no card number is ever accepted here)."""

    index: int
    reference: str
    order_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    vpa: str | None = None
    payment_method_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class BatchCreated:
    batch: PaymentBatch
    created: bool  # False: a batch with this reference existed; it is returned as it is


def item_error(exc: DomainError) -> dict[str, Any]:
    return {"code": exc.code, "description": exc.description, "field": exc.field, "reason": exc.reason}


def rejection(index: int, reference: Any, error: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "reference": reference if isinstance(reference, str) else None, "error": error}


_BATCH_INSERT_SQL = """
INSERT INTO payment_batches (id, merchant_id, mode, reference, status, total, accepted, rejected, callback_url,
                             created_at)
VALUES (%(id)s, %(merchant_id)s, %(mode)s, %(reference)s, 'processing', %(total)s, 0, '[]'::jsonb, %(callback_url)s,
        %(now)s)
ON CONFLICT (merchant_id, mode, reference) DO NOTHING
RETURNING id
"""

# Every accepted item in one statement (foreign keys are checked at its end).
_ITEMS_INSERT_SQL = """
WITH items AS (
    SELECT * FROM unnest(
        %(ids)s::text[], %(order_ids)s::text[], %(new_orders)s::bool[], %(amounts)s::bigint[],
        %(currencies)s::text[], %(methods)s::text[], %(vpas)s::text[], %(networks)s::text[], %(last4s)s::text[],
        %(customer_ids)s::text[], %(method_ids)s::text[], %(references)s::text[], %(event_ids)s::text[],
        %(data)s::jsonb[]
    ) AS t(id, order_id, new_order, amount, currency, method, vpa, card_network, card_last4, customer_id,
           payment_method_id, reference, event_id, data)
),
o AS (
    INSERT INTO orders (id, merchant_id, mode, amount, currency, receipt, notes, status, customer_id, created_at,
                        updated_at)
    SELECT order_id, %(merchant_id)s, %(mode)s, amount, currency, NULL, '{}'::jsonb, 'attempted', customer_id,
           %(now)s, %(now)s
      FROM items WHERE new_order
),
u AS (
    UPDATE orders SET status = 'attempted', updated_at = %(now)s
     WHERE merchant_id = %(merchant_id)s AND status = 'created'
       AND id IN (SELECT order_id FROM items WHERE NOT new_order)
),
p AS (
    INSERT INTO payments (id, merchant_id, mode, order_id, amount, currency, method, vpa, card_network, card_last4,
                          status, captured, version, provider, callback_url, customer_id, payment_method_id,
                          batch_id, reference, created_at, updated_at)
    SELECT id, %(merchant_id)s, %(mode)s, order_id, amount, currency, method, vpa, card_network, card_last4, 'pending',
           false, 1, %(provider)s, %(callback_url)s, customer_id, payment_method_id, %(batch_id)s, reference,
           %(now)s, %(now)s
      FROM items
),
t AS (
    INSERT INTO timeline_entries (object_type, object_id, payment_id, from_status, to_status, version, detail,
                                  source, created_at)
    SELECT 'payment', id, id, NULL, 'pending', 1, 'Payment created (batch)', 'batch', %(now)s FROM items
)
INSERT INTO events (id, merchant_id, mode, type, object_type, object_id, version, data, correlation_id, created_at)
SELECT event_id, %(merchant_id)s, %(mode)s, 'payment.created', 'payment', id, 1, data, %(correlation_id)s, %(now)s
  FROM items
"""


def payment_batch_create(
    *,
    merchant: Merchant,
    reference: str,
    items: Sequence[BatchItem],
    rejected: Sequence[dict[str, Any]],
    total: int,
    callback_url: str | None = None,
) -> BatchCreated:
    """Create the batch and its accepted items' pending payments in one transaction.

    ``items`` passed the API's shape checks; ``rejected`` are those that did not (with
    their index). Adds the rejections that need the database: unknown or paid orders,
    amount/currency that do not match an order, unusable saved methods, unknown customers,
    item references already used by this merchant or repeated in the batch. A batch whose
    every item is rejected is completed at once (its ``batch.completed`` is recorded)."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _create(
                    merchant=merchant,
                    reference=reference,
                    items=items,
                    rejected=list(rejected),
                    total=total,
                    callback_url=callback_url,
                )
        except IntegrityError as exc:
            # A concurrent batch took one of our item references between our check and our
            # insert: run again, and the check rejects it this time.
            if attempt or "payments_reference_unique_per_merchant" not in str(exc):
                raise
    raise AssertionError("unreachable")


def _create(
    *,
    merchant: Merchant,
    reference: str,
    items: Sequence[BatchItem],
    rejected: list[dict[str, Any]],
    total: int,
    callback_url: str | None,
) -> BatchCreated:
    now = timezone.now()
    batch_id = PaymentBatch._meta.get_field("id").default()
    with connection.cursor() as cursor:
        cursor.execute(
            _BATCH_INSERT_SQL,
            {
                "id": batch_id,
                "merchant_id": merchant.pk,
                "mode": creation_mode(merchant),
                "reference": reference,
                "total": total,
                "callback_url": callback_url,
                "now": now,
            },
        )
        if cursor.fetchone() is None:
            existing = PaymentBatch.objects.get(merchant=merchant, mode=creation_mode(merchant), reference=reference)
            return BatchCreated(batch=existing, created=False)
    accepted = _checked(merchant=merchant, items=items, rejected=rejected, now=now)
    payments = [_payment(merchant=merchant, batch_id=batch_id, item=item, callback_url=callback_url, now=now, **extra)
                for item, extra in accepted]  # fmt: skip
    if payments:
        _items_insert(merchant=merchant, batch_id=batch_id, payments=payments, callback_url=callback_url, now=now)
        outbox_nudge_after_commit()
    rejected.sort(key=lambda r: r["index"])
    batch = PaymentBatch(
        id=batch_id,
        merchant=merchant,
        mode=creation_mode(merchant),
        reference=reference,
        status=PaymentBatch.Status.PROCESSING,
        total=total,
        accepted=len(payments),
        rejected=rejected,
        callback_url=callback_url,
        created_at=now,
    )
    if not payments:
        batch.status, batch.completed_at = PaymentBatch.Status.COMPLETED, now
    PaymentBatch.objects.filter(pk=batch_id).update(
        accepted=batch.accepted, rejected=rejected, status=batch.status, completed_at=batch.completed_at
    )
    if not payments:
        _completed_event(batch=batch)
    return BatchCreated(batch=batch, created=True)


def _checked(
    *, merchant: Merchant, items: Sequence[BatchItem], rejected: list[dict[str, Any]], now: datetime
) -> list[tuple[BatchItem, dict[str, Any]]]:
    """The items that pass the database checks, each with what the payment takes from its
    order or saved method; the others are appended to ``rejected``."""
    references = [i.reference for i in items]
    scope = merchant_scope(merchant)
    used = set(Payment.objects.filter(reference__in=references, **scope).values_list("reference", flat=True))
    order_ids = sorted({i.order_id for i in items if i.order_id})
    orders: dict[str, tuple] = {}
    if order_ids:
        with connection.cursor() as cursor:
            # Locked in id order (as every multi-row lock here): no deadlock with another batch.
            cursor.execute(
                "SELECT id, amount, currency, status, customer_id FROM orders"
                " WHERE merchant_id = %s AND mode = %s AND id = ANY(%s) ORDER BY id FOR UPDATE",
                [merchant.pk, creation_mode(merchant), order_ids],
            )
            orders = {row[0]: row[1:] for row in cursor.fetchall()}
    method_ids = {i.payment_method_id for i in items if i.payment_method_id}
    methods = SavedPaymentMethod.objects.filter(**scope).in_bulk(method_ids) if method_ids else {}
    customer_ids = {i.customer_id for i in items if i.customer_id}
    customers = set(Customer.objects.filter(pk__in=customer_ids, **scope).values_list("id", flat=True))
    seen_references: set[str] = set()
    seen_orders: set[str] = set()
    accepted: list[tuple[BatchItem, dict[str, Any]]] = []
    for item in items:
        try:
            extra = _item_check(
                item=item,
                used=used,
                seen_references=seen_references,
                seen_orders=seen_orders,
                orders=orders,
                methods=methods,
                customers=customers,
                now=now,
            )
        except DomainError as exc:
            rejected.append(rejection(item.index, item.reference, item_error(exc)))
            continue
        seen_references.add(item.reference)
        if item.order_id:
            seen_orders.add(item.order_id)
        accepted.append((item, extra))
    return accepted


def _item_check(
    *,
    item: BatchItem,
    used: set[str],
    seen_references: set[str],
    seen_orders: set[str],
    orders: dict[str, tuple],
    methods: dict[str, SavedPaymentMethod],
    customers: set[str],
    now: datetime,
) -> dict[str, Any]:
    if item.reference in used or item.reference in seen_references:
        raise InvalidInput(
            "reference is already used by another payment", field="reference", reason="duplicate_reference"
        )
    extra: dict[str, Any] = {"customer_id": item.customer_id}
    if item.customer_id and item.customer_id not in customers:
        raise NotFound("Customer not found", field="customer_id")
    if item.order_id:
        order = orders.get(item.order_id)
        if order is None:
            raise NotFound("Order not found", field="order_id")
        amount, currency, status, order_customer = order
        if status == OrderStatus.PAID:
            raise InvalidInput("Order is already paid", field="order_id", reason="order_already_paid")
        if item.order_id in seen_orders:
            raise InvalidInput("Another item of this batch pays this order", field="order_id", reason="duplicate_order")
        if item.amount is not None and item.amount != amount:
            raise InvalidInput("amount does not match the order", field="amount", reason="amount_mismatch")
        if item.currency is not None and item.currency != currency:
            raise InvalidInput("currency does not match the order", field="currency", reason="currency_mismatch")
        if item.customer_id and order_customer not in (None, item.customer_id):
            raise InvalidInput(
                "customer_id does not match the order's customer", field="customer_id", reason="customer_mismatch"
            )
        extra.update(amount=amount, currency=currency, new_order=False)
        extra["customer_id"] = item.customer_id or order_customer
    else:
        extra.update(amount=item.amount, currency=item.currency or "INR", new_order=True)
    if item.payment_method_id:
        method = methods.get(item.payment_method_id)
        if method is None:
            raise NotFound("Payment method not found", field="payment_method_id")
        if extra["customer_id"] and method.customer_id != extra["customer_id"]:
            raise InvalidInput(
                "The payment method does not belong to this customer",
                field="payment_method_id",
                reason="payment_method_customer_mismatch",
            )
        payment_method_usable(method=method, now=now)
        extra["customer_id"] = method.customer_id
        extra["method"] = method
    return extra


@dataclass(frozen=True)
class _PendingPayment:
    """What one accepted item inserts: the attributes ``payment_snapshot`` reads. Not a
    model instance: building 1,000 of those was a fifth of a batch's time."""

    id: str
    merchant_id: Any
    order_id: str
    new_order: bool
    amount: int
    currency: str
    method: str
    vpa: str | None
    card_network: str | None
    card_last4: str | None
    customer_id: str | None
    payment_method_id: str | None
    batch_id: str
    reference: str
    created_at: datetime
    updated_at: datetime
    status: str = PaymentStatus.PENDING
    captured: bool = False
    error_code: None = None
    error_description: None = None
    version: int = 1


def _payment(
    *,
    merchant: Merchant,
    batch_id: str,
    item: BatchItem,
    callback_url: str | None,
    now: datetime,
    amount: int,
    currency: str,
    new_order: bool,
    customer_id: str | None,
    method: SavedPaymentMethod | None = None,
) -> _PendingPayment:
    return _PendingPayment(
        id=new_payment_id(),
        merchant_id=merchant.pk,
        order_id=new_order_id() if new_order else item.order_id,
        new_order=new_order,
        amount=amount,
        currency=currency,
        method=method.type if method else "upi",
        vpa=method.vpa if method else item.vpa,
        card_network=method.card_network if method else None,
        card_last4=method.card_last4 if method else None,
        customer_id=customer_id,
        payment_method_id=method.pk if method else None,
        batch_id=batch_id,
        reference=item.reference,
        created_at=now,
        updated_at=now,
    )


def _items_insert(
    *, merchant: Merchant, batch_id: str, payments: list[_PendingPayment], callback_url: str | None, now: datetime
) -> None:
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "ids", "order_ids", "new_orders", "amounts", "currencies", "methods", "vpas", "networks", "last4s",
            "customer_ids", "method_ids", "references", "event_ids", "data",
        )
    }  # fmt: skip
    for payment in payments:
        values = (
            payment.id, payment.order_id, payment.new_order, payment.amount, payment.currency, payment.method,
            payment.vpa, payment.card_network, payment.card_last4, payment.customer_id, payment.payment_method_id,
            payment.reference, new_event_id(),
            json.dumps({"payment": payment_snapshot(payment)}, separators=(",", ":"), ensure_ascii=False),
        )  # fmt: skip
        for column, value in zip(columns.values(), values, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            _ITEMS_INSERT_SQL,
            {
                **columns,
                "merchant_id": merchant.pk,
                "mode": creation_mode(merchant),
                "batch_id": batch_id,
                "provider": settings.PAYMENT_PROVIDER,
                "callback_url": callback_url,
                "now": now,
                "correlation_id": get_correlation_id(),
            },
        )


# --- completion ---------------------------------------------------------------------------

_FINAL_EVENTS = frozenset(PAYMENT.event_for(PaymentStatus.PENDING, status) for status in PAYMENT_FINAL)
_COMPLETE_SQL = """
UPDATE payment_batches b SET status = 'completed', completed_at = %(now)s
 WHERE id = %(id)s AND status = 'processing'
   AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.batch_id = b.id AND p.status = 'pending')
RETURNING id
"""


def batches_complete(events: Sequence[Event]) -> None:
    """Outbox consumer: complete each batch whose payment just became final and has no
    pending payment left. Runs in the dispatcher's transaction; idempotent (the
    ``processing → completed`` compare-and-set happens once)."""
    batch_ids = {
        e.data.get("payment", {}).get("batch_id")
        for e in events
        if e.type in _FINAL_EVENTS and e.object_type == "payment"
    }
    for batch_id in sorted(b for b in batch_ids if b):
        batch_complete_if_done(batch_id=batch_id)


def batch_complete_if_done(*, batch_id: str) -> PaymentBatch | None:
    """Complete the batch if none of its payments is pending (inside a transaction);
    returns it when this call completed it."""
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETE_SQL, {"id": batch_id, "now": timezone.now()})
        if cursor.fetchone() is None:
            return None
    batch = PaymentBatch.objects.get(pk=batch_id)
    _completed_event(batch=batch)
    return batch


def _completed_event(*, batch: PaymentBatch) -> Event:
    data = batch_snapshot(batch, counts=batch_counts(batch=batch))
    data["failed"] = batch_failed_items(batch=batch)
    data["rejected"] = batch.rejected
    return event_record(
        merchant_id=batch.merchant_id,
        mode=batch.mode,
        type="batch.completed",
        object_type="batch",
        object_id=batch.id,
        version=data["version"],
        data={"batch": data},
    )
