"""Resource snapshots: the plain-dict JSON shapes of orders, payments and refunds, shared
by the API responses, events and webhooks (plain dicts, not serializers: ~100x cheaper)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payments.models import Order, Payment, Refund


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a ``Z`` and millisecond precision."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_snapshot(order: Order) -> dict[str, Any]:
    return {
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
    return data


def payment_public_snapshot(payment: Payment) -> dict[str, Any]:
    """What the hosted checkout may see: no merchant internals."""
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        "status": payment.status,
        "error_code": payment.error_code,
        "error_description": payment.error_description,
        "version": payment.version,
        "created_at": iso(payment.created_at),
        "updated_at": iso(payment.updated_at),
    }


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
