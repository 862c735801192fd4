"""Builders for reconciliation tests: payments in a chosen state and settlement files."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from payments.models import Merchant, Order, Payment
from reconciliation.parsing import COLUMNS

PERIOD_START = datetime(2026, 1, 10, tzinfo=UTC)
PERIOD_END = PERIOD_START + timedelta(days=1)
_refs = itertools.count(1)


def payment_make(
    merchant: Merchant,
    *,
    status: str,
    amount: int = 50000,
    currency: str = "INR",
    created_at: datetime | None = None,
    provider: str = "simulator",
    reference: str | None = "auto",
) -> Payment:
    """A payment (and its order) stored directly in ``status`` — a fixture, not a flow."""
    order = Order.objects.create(merchant=merchant, amount=amount, currency=currency)
    payment = Payment.objects.create(
        merchant=merchant,
        order=order,
        amount=amount,
        currency=currency,
        method="upi",
        vpa="customer@upi",
        status=status,
        provider=provider,
        provider_reference=f"sim_{next(_refs):08d}" if reference == "auto" else reference,
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=created_at or PERIOD_START + timedelta(hours=1))
    payment.refresh_from_db()
    return payment


def line_for(payment: Payment, *, status: str = "success", amount: int | None = None, currency: str | None = None):
    return {
        "provider_reference": payment.provider_reference or "sim_x",
        "payment_id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount if amount is None else amount,
        "currency": currency or payment.currency,
        "status": status,
        "settled_at": "2026-01-10T12:00:00Z" if status == "success" else "",
        "fee": 100,
    }


def settlement_csv(lines: list[dict], *, header: tuple[str, ...] = COLUMNS) -> bytes:
    out = [",".join(header)]
    for line in lines:
        out.append(",".join(str(line[c]) for c in COLUMNS))
    return ("\n".join(out) + "\n").encode()
