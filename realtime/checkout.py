"""Hosted checkout helpers: the browser redirect to a payment's ``callback_url``.

When a payment ends, the checkout sends the browser to ``callback_url`` with ``payment_id``,
``order_id``, ``status``, ``amount``, ``currency`` and ``signature`` = hex HMAC-SHA256 of
``"v2|{order_id}|{payment_id}|{status}|{amount}|{currency}"`` keyed with the merchant's
default webhook endpoint secret (the one the dashboard shows). The outcome and the amount
are inside the signature: a customer who edits ``status=failed`` into ``status=success`` (or
the amount) in the address bar breaks it. A merchant without a default endpoint gets no
signature and must confirm through the API, which is what every merchant should do before
shipping anyway. The merchant's verification code is in docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from payments.models import Payment
from payments.states import PAYMENT_FINAL
from webhooks.models import WebhookEndpoint

ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


CALLBACK_SIGNATURE_VERSION = "v2"  # v1 (order_id|payment_id) left the outcome unsigned


def callback_signed_message(*, order_id: str, payment_id: str, status: str, amount: int, currency: str) -> bytes:
    """What the callback signature covers, in order; the merchant rebuilds it from the query."""
    return f"{CALLBACK_SIGNATURE_VERSION}|{order_id}|{payment_id}|{status}|{amount}|{currency}".encode()


def callback_signature(*, secret: str, order_id: str, payment_id: str, status: str, amount: int, currency: str) -> str:
    message = callback_signed_message(
        order_id=order_id, payment_id=payment_id, status=status, amount=amount, currency=currency
    )
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _merchant_callback_secret(merchant_id: object, mode: str) -> str | None:
    endpoint = (
        WebhookEndpoint.objects.filter(merchant_id=merchant_id, mode=mode, is_default=True, deleted_at__isnull=True)
        .only("secret")
        .first()
    )
    return endpoint.secret if endpoint else None


def checkout_redirect_url(*, payment: Payment) -> str | None:
    """Where the checkout sends the browser once ``payment`` is final, or None."""
    if not payment.callback_url or payment.status not in PAYMENT_FINAL:
        return None
    parts = urlsplit(payment.callback_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # never a javascript: or data: URL
    params = {
        "payment_id": payment.id,
        "order_id": payment.order_id,
        "status": payment.status,
        "amount": str(payment.amount),
        "currency": payment.currency,
    }
    secret = _merchant_callback_secret(payment.merchant_id, payment.mode)  # the default endpoint of its world
    if secret:
        params["signature"] = callback_signature(
            secret=secret,
            order_id=payment.order_id,
            payment_id=payment.id,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
        )
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def parent_origin_clean(value: str | None) -> str | None:
    """The embedding page's origin as passed by checkout.js, if it looks like one."""
    if value and len(value) <= 255 and ORIGIN_RE.match(value):
        return value
    return None
