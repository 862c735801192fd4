"""Orders: the unit a customer pays for."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from common.errors import InvalidInput
from payments.models import Merchant, Order, creation_mode
from payments.money import DEFAULT_CURRENCY
from payments.selectors.customers import customer_get_for_merchant
from payments.services.customers import customer_create
from payments.validation import (
    validate_amount,
    validate_callback_url,
    validate_currency,
    validate_notes,
    validate_receipt,
)


def order_create(
    *,
    merchant: Merchant,
    amount: int,
    currency: str = DEFAULT_CURRENCY,
    receipt: str | None = None,
    notes: dict[str, Any] | None = None,
    callback_url: str | None = None,
    customer_id: str | None = None,
    customer: dict[str, Any] | None = None,
) -> Order:
    """Create an order (status ``created``). Validates amount (integer minor units ≥ 100),
    currency (ISO 4217), receipt, notes and the optional http(s) ``callback_url`` (payments
    of the order without their own inherit it); raises ``InvalidInput`` and writes nothing on
    bad input. ``customer_id`` (one of this merchant's customers, else 404) is who its
    payments send receipts to; ``customer`` (validated ``{email, phone, name, locale}``)
    instead makes a new customer for it in the same transaction."""
    if customer_id is not None and customer is not None:
        raise InvalidInput("send customer_id or customer, not both", field="customer", reason="customer_conflict")
    if customer_id is not None:
        customer_get_for_merchant(merchant=merchant, customer_id=customer_id, field="customer_id")
    fields = {
        "amount": validate_amount(amount),
        "currency": validate_currency(currency),
        "receipt": validate_receipt(receipt),
        "notes": validate_notes(notes),
        "callback_url": validate_callback_url(callback_url),
    }
    if customer is not None:
        with transaction.atomic():
            new_customer = customer_create(merchant=merchant, **customer)
            return Order.objects.create(
                merchant=merchant, mode=creation_mode(merchant), customer_id=new_customer.pk, **fields
            )
    return Order.objects.create(
        merchant=merchant,
        mode=creation_mode(merchant),
        customer_id=customer_id,
        **fields,
    )
