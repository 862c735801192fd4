"""Customers and their saved payment methods.

A card is saved by handing it to the provider's ``tokenize`` (outside any transaction: a
real vault is a network call) and storing what comes back: the token, network, last four
digits, expiry, plus a keyed fingerprint (:mod:`payments.fingerprints`). The number and
CVV live only in the request's memory. The same card (or VPA) saved again for the same
customer returns the method already saved; a partial unique index decides races.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from payments.fingerprints import payment_method_fingerprint
from payments.models import Customer, Merchant, PaymentMethod, SavedPaymentMethod, creation_mode
from payments.providers import get_provider
from payments.selectors.customers import customer_get_for_merchant, payment_method_get_for_customer
from payments.validation import CardDetails

_UNSET = object()
DEFAULT_LOCALE = "en-IN"


def customer_create(
    *,
    merchant: Merchant,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
) -> Customer:
    """Create a customer (``cust_…``) from validated fields; one INSERT."""
    return Customer.objects.create(
        merchant=merchant,
        mode=creation_mode(merchant),
        email=email,
        name=name,
        phone=phone,
        locale=locale or Customer._meta.get_field("locale").default,
    )


def customer_update(
    *,
    merchant: Merchant,
    customer_id: str,
    email: object = _UNSET,
    name: object = _UNSET,
    phone: object = _UNSET,
    locale: object = _UNSET,
) -> Customer:
    """Change the given (validated) fields of a customer; others stay. 404 if not ours."""
    customer = customer_get_for_merchant(merchant=merchant, customer_id=customer_id)
    changes = {
        key: value
        for key, value in {"email": email, "name": name, "phone": phone, "locale": locale}.items()
        if value is not _UNSET
    }
    if changes:
        changes["updated_at"] = timezone.now()
        Customer.objects.filter(pk=customer.pk).update(**changes)
        for key, value in changes.items():
            setattr(customer, key, value)
    return customer


@dataclass(frozen=True)
class SavedMethod:
    method: SavedPaymentMethod
    created: bool  # False: this card/VPA was already saved for the customer


def payment_method_save(
    *,
    merchant: Merchant,
    customer_id: str,
    type: str,
    card: CardDetails | None = None,
    vpa: str | None = None,
) -> SavedMethod:
    """Save a validated card (tokenised by the provider) or VPA for a customer of
    ``merchant`` (404 otherwise). Call it outside a transaction: ``tokenize`` may be
    network I/O. A live method with the same fingerprint is returned instead (created=False)."""
    customer = customer_get_for_merchant(merchant=merchant, customer_id=customer_id)
    if type == PaymentMethod.CARD:
        assert card is not None
        fingerprint = payment_method_fingerprint(merchant_id=merchant.pk, kind="card", value=card.number)
    else:
        assert vpa is not None
        fingerprint = payment_method_fingerprint(merchant_id=merchant.pk, kind="upi", value=vpa.lower())
    existing = _live_with_fingerprint(customer=customer, fingerprint=fingerprint)
    if existing is not None:
        return SavedMethod(method=existing, created=False)
    method = SavedPaymentMethod(
        merchant=merchant,
        mode=customer.mode,
        customer=customer,
        type=type,
        provider=settings.PAYMENT_PROVIDER,
        fingerprint=fingerprint,
    )
    if type == PaymentMethod.CARD:
        token = get_provider(settings.PAYMENT_PROVIDER).tokenize(merchant_id=merchant.pk, card=card)
        method.provider_token = token.token
        method.card_network, method.card_last4 = token.card_network, token.card_last4
        method.expiry_month, method.expiry_year = token.expiry_month, token.expiry_year
    else:
        method.vpa = vpa
    try:
        with transaction.atomic():
            method.save(force_insert=True)
    except IntegrityError:
        # A concurrent save of the same card won (its token is the one kept).
        existing = _live_with_fingerprint(customer=customer, fingerprint=fingerprint)
        if existing is None:
            raise
        return SavedMethod(method=existing, created=False)
    return SavedMethod(method=method, created=True)


def _live_with_fingerprint(*, customer: Customer, fingerprint: str) -> SavedPaymentMethod | None:
    return SavedPaymentMethod.objects.filter(
        customer=customer, fingerprint=fingerprint, deleted_at__isnull=True
    ).first()


def payment_method_delete(*, merchant: Merchant, customer_id: str, payment_method_id: str) -> SavedPaymentMethod:
    """Mark a saved method deleted (idempotent); new payments with it get a 400."""
    method = payment_method_get_for_customer(
        merchant=merchant, customer_id=customer_id, payment_method_id=payment_method_id
    )
    if method.deleted_at is None:
        now = timezone.now()
        SavedPaymentMethod.objects.filter(pk=method.pk, deleted_at__isnull=True).update(deleted_at=now)
        method.deleted_at = now
    return method
