"""What a receipt says: subject, plain text, HTML and SMS text from the templates in
``notifications/templates/notifications/``, with the amount and the time written in the
customer's locale (Babel: ``₹1,23,456.78`` for en-IN, ``1.234,56 €`` for de-DE).

The content comes from the event's snapshot (what was true when it happened), the
merchant's name and the customer; the HTML template autoescapes (merchant and customer
names are input)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_currency
from django.template.loader import render_to_string

from notifications.models import Notification
from payments.models import Customer, Event, Merchant, Payment
from payments.money import CURRENCY_EXPONENTS

DEFAULT_LOCALE = "en_IN"
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_SUBJECTS = {
    "payment.success": "Payment received",
    "payment.failed": "Payment failed",
    "refund.processed": "Refund processed",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


def _locale(tag: str | None) -> Locale:
    try:
        return Locale.parse(tag or DEFAULT_LOCALE, sep="-" if tag and "-" in tag else "_")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def amount_for_customer(amount: int, currency: str, *, locale: Locale) -> str:
    """Minor units as the customer writes money: exact decimal, the currency's own digits."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return format_currency(Decimal(amount).scaleb(-exponent), currency, locale=locale)


def receipt_context(*, notification: Notification) -> dict[str, Any]:
    event = Event.objects.get(id=notification.event_id)
    merchant = Merchant.objects.get(pk=notification.merchant_id)
    customer = Customer.objects.get(pk=notification.customer_id)
    payment = Payment.objects.get(pk=notification.payment_id)
    locale = _locale(customer.locale)
    snapshot = event.data["refund" if event.object_type == "refund" else "payment"]
    if payment.method == "card":
        instrument = f"{(payment.card_network or 'card').title()} •••• {payment.card_last4}"
    else:
        instrument = f"UPI {payment.vpa}"
    return {
        "kind": event.type,
        "headline": _SUBJECTS[event.type],
        "merchant_name": merchant.name,
        "customer_name": customer.name or "",
        "amount": amount_for_customer(snapshot["amount"], payment.currency, locale=locale),
        "payment_amount": amount_for_customer(payment.amount, payment.currency, locale=locale),
        "payment_id": payment.id,
        "order_id": payment.order_id,
        "refund_id": notification.refund_id,
        "instrument": instrument,
        "error_description": snapshot.get("error_description") if event.type == "payment.failed" else None,
        "when": format_datetime(event.created_at.astimezone(UTC), "medium", tzinfo=UTC, locale=locale) + " UTC",
        "notification_id": notification.id,
    }


def _one_line(text: str) -> str:
    """Collapse ASCII whitespace runs (not the no-break spaces locales put in amounts)."""
    return _ASCII_SPACE.sub(" ", text).strip()


def receipt_render(*, notification: Notification) -> Rendered:
    context = receipt_context(notification=notification)
    subject = f"{context['headline']}: {context['amount']} — {context['merchant_name']}"
    return Rendered(
        subject=_one_line(subject),  # a header: no newlines, whatever the names hold
        text=render_to_string("notifications/receipt.txt", context),
        html=render_to_string("notifications/receipt.html", context),
        sms=_one_line(render_to_string("notifications/receipt_sms.txt", context)),
    )
