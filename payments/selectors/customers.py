"""Read side of customers and their saved payment methods; every lookup is merchant-scoped
(another merchant's customer or method is indistinguishable from a missing one)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from common.errors import EXPIRED_CARD, InvalidInput, NotFound
from payments.models import Customer, Merchant, SavedPaymentMethod, merchant_scope


def customer_get_for_merchant(*, merchant: Merchant, customer_id: str, field: str | None = None) -> Customer:
    customer = Customer.objects.filter(pk=customer_id, **merchant_scope(merchant)).first()
    if customer is None:
        raise NotFound("Customer not found", field=field)
    return customer


def customer_list_for_merchant(*, merchant: Merchant) -> QuerySet[Customer]:
    return Customer.objects.filter(**merchant_scope(merchant)).order_by("-created_at", "-id")


def payment_method_list_for_customer(*, merchant: Merchant, customer_id: str) -> QuerySet[SavedPaymentMethod]:
    """The customer's live (not deleted) methods, newest first; 404 for an unknown customer."""
    customer = customer_get_for_merchant(merchant=merchant, customer_id=customer_id)
    return SavedPaymentMethod.objects.filter(customer=customer, deleted_at__isnull=True).order_by("-created_at", "-id")


def payment_method_get_for_customer(
    *, merchant: Merchant, customer_id: str, payment_method_id: str
) -> SavedPaymentMethod:
    method = SavedPaymentMethod.objects.filter(
        pk=payment_method_id, customer_id=customer_id, **merchant_scope(merchant)
    ).first()
    if method is None:
        raise NotFound("Payment method not found")
    return method


def payment_method_expired(*, method: SavedPaymentMethod, now: datetime) -> bool:
    """A saved card is good through the last day of its expiry month; a VPA never expires."""
    return method.type == "card" and (method.expiry_year, method.expiry_month) < (now.year, now.month)


def payment_method_usable(*, method: SavedPaymentMethod, now: datetime) -> SavedPaymentMethod:
    """``method`` if a new payment may use it, else an enveloped 400 that says why:
    ``payment_method_deleted`` or (EXPIRED_CARD) ``payment_method_expired``."""
    if method.deleted_at is not None:
        raise InvalidInput(
            "This payment method was deleted", field="payment_method_id", reason="payment_method_deleted"
        )
    if payment_method_expired(method=method, now=now):
        raise InvalidInput(
            f"The saved card expired at the end of {method.expiry_month:02d}/{method.expiry_year}",
            code=EXPIRED_CARD,
            field="payment_method_id",
            reason="payment_method_expired",
        )
    return method


def payment_method_for_payment(
    *, merchant: Merchant, payment_method_id: str, customer_id: str | None, now: datetime
) -> SavedPaymentMethod:
    """The saved method a payment names, checked: it must be this merchant's (else 404),
    belong to ``customer_id`` (400 ``payment_method_customer_mismatch``), and be usable."""
    method = SavedPaymentMethod.objects.filter(pk=payment_method_id, **merchant_scope(merchant)).first()
    if method is None:
        raise NotFound("Payment method not found", field="payment_method_id")
    if customer_id is None:
        raise InvalidInput("customer_id is required with payment_method_id", field="customer_id", reason="required")
    if method.customer_id != customer_id:
        raise InvalidInput(
            "The payment method does not belong to this customer",
            field="payment_method_id",
            reason="payment_method_customer_mismatch",
        )
    return payment_method_usable(method=method, now=now)


def payment_methods_for_checkout(*, customer_id: str | None, now: datetime) -> list[SavedPaymentMethod]:
    """What the hosted checkout offers a returning customer (the order's): their live,
    unexpired saved methods, newest first. The order id is the checkout's capability, so
    this shows only what a card picker shows (network, last four, expiry) and no token."""
    if customer_id is None:
        return []
    methods = SavedPaymentMethod.objects.filter(customer_id=customer_id, deleted_at__isnull=True).order_by(
        "-created_at", "-id"
    )
    return [m for m in methods if not payment_method_expired(method=m, now=now)]
