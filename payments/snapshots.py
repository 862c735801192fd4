"""Resource snapshots: the plain-dict JSON shapes of orders, payments and refunds, shared
by the API responses, events and webhooks (plain dicts, not serializers: ~100x cheaper)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payments.models import Customer, Order, Payment, PaymentBatch, Refund, SavedPaymentMethod


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a ``Z`` and millisecond precision."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_snapshot(order: Order) -> dict[str, Any]:
    data = {
        "id": order.id,
        "merchant_id": str(order.merchant_id),
        "amount": order.amount,
        "currency": order.currency,
        "receipt": order.receipt,
        "notes": order.notes,
        "callback_url": order.callback_url,
        "status": order.status,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }
    if order.customer_id is not None:  # only when set: the seed API's shape otherwise
        data["customer_id"] = order.customer_id
    return data


def order_public_snapshot(order: Order) -> dict[str, Any]:
    return {"id": order.id, "amount": order.amount, "currency": order.currency, "status": order.status}


def payment_snapshot(payment: Payment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": payment.id,
        "order_id": payment.order_id,
        "merchant_id": str(payment.merchant_id),
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        "status": payment.status,
        "captured": payment.captured,
        "error_code": payment.error_code,
        "error_description": payment.error_description,
        "version": payment.version,
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
    }
    if payment.method == "upi":
        data["vpa"] = payment.vpa
    else:
        data["card_network"] = payment.card_network
        data["card_last4"] = payment.card_last4
    # Only when set, so payments without a customer keep the seed API's exact shape.
    if payment.customer_id is not None:
        data["customer_id"] = payment.customer_id
    if payment.payment_method_id is not None:
        data["payment_method_id"] = payment.payment_method_id
    if payment.batch_id is not None:
        data["batch_id"] = payment.batch_id
        data["reference"] = payment.reference
    return data


# What the hosted checkout (its page, its socket, its API) may see of a payment: no merchant
# internals, no instrument details.
PUBLIC_PAYMENT_FIELDS = (
    "id",
    "order_id",
    "amount",
    "currency",
    "method",
    "status",
    "error_code",
    "error_description",
    "version",
    "created_at",
    "updated_at",
)


def payment_public_from_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The public projection of a full payment snapshot (an event's ``data.payment``)."""
    return {key: snapshot.get(key) for key in PUBLIC_PAYMENT_FIELDS}


def payment_public_snapshot(payment: Payment) -> dict[str, Any]:
    """The public projection of ``payment``."""
    return payment_public_from_snapshot(payment_snapshot(payment))


def refund_snapshot(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "merchant_id": str(refund.merchant_id),
        "amount": refund.amount,
        "reason": refund.reason,
        "status": refund.status,
        "version": refund.version,
        "error_code": refund.error_code,
        "error_description": refund.error_description,
        "created_at": iso(refund.created_at),
        "processed_at": iso(refund.processed_at),
        "updated_at": iso(refund.updated_at),
    }


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "locale": customer.locale,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
    }


def payment_method_snapshot(method: SavedPaymentMethod) -> dict[str, Any]:
    """A saved method as the API shows it: never the provider token."""
    data: dict[str, Any] = {"id": method.id, "customer_id": method.customer_id, "type": method.type}
    if method.type == "card":
        data.update(
            card_network=method.card_network,
            card_last4=method.card_last4,
            expiry_month=method.expiry_month,
            expiry_year=method.expiry_year,
        )
    else:
        data["vpa"] = method.vpa
    data["fingerprint"] = method.fingerprint
    data["created_at"] = iso(method.created_at)
    data["deleted_at"] = iso(method.deleted_at)
    return data


def batch_snapshot(batch: PaymentBatch, *, counts: dict[str, int]) -> dict[str, Any]:
    """A batch with its counts (``counts``: success/failed/pending, from its payments).
    ``version`` is 1 while processing and 2 once completed (its only change)."""
    return {
        "id": batch.id,
        "reference": batch.reference,
        "status": batch.status,
        "total": batch.total,
        "accepted": batch.accepted,
        "rejected_count": len(batch.rejected),
        "success_count": counts["success"],
        "failed_count": counts["failed"],
        "pending_count": counts["pending"],
        "callback_url": batch.callback_url,
        "version": 2 if batch.status == "completed" else 1,
        "created_at": iso(batch.created_at),
        "completed_at": iso(batch.completed_at),
    }
