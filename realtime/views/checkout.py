"""Hosted checkout page, its status endpoint and ``/checkout.js``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from common.http.errors import envelope
from payments.ids import is_public_id
from payments.models import ApiKey, Payment
from payments.money import format_amount
from payments.selectors.customers import payment_methods_for_checkout
from payments.snapshots import order_public_snapshot, payment_public_snapshot
from realtime.checkout import checkout_redirect_url, parent_origin_clean
from realtime.selectors import order_for_checkout

# Next to the code, not under settings.BASE_DIR (tests point BASE_DIR at a scratch directory).
SDK_PATH = Path(__file__).resolve().parents[2] / "static" / "checkout.js"


@require_GET
@xframe_options_exempt
def checkout_page(request: HttpRequest) -> HttpResponse:
    """``GET /checkout?order_id=…[&embedded=true&parent_origin=…&key=…]``."""
    embedded = request.GET.get("embedded") == "true"
    parent_origin = parent_origin_clean(request.GET.get("parent_origin")) if embedded else None
    order_id = request.GET.get("order_id", "")
    order = order_for_checkout(order_id=order_id)
    key = request.GET.get("key")
    if order is not None and key and not _key_of_merchant(key, order.merchant_id):
        order = None  # the SDK's key must belong to the order's merchant
    context = {"embedded": embedded}
    if order is None:
        # A person followed a broken or stale link: a page that says so, with status 404.
        context["order_id_given"] = bool(order_id)
        response = render(request, "realtime/checkout_missing.html", context, status=404)
    else:
        saved = payment_methods_for_checkout(customer_id=order.customer_id, now=timezone.now())
        config = {
            "order": {**order_public_snapshot(order), "amount_display": format_amount(order.amount, order.currency)},
            "embedded": embedded,
            "parentOrigin": parent_origin,
            "savedMethods": [_saved_method(m) for m in saved],
        }
        response = render(request, "realtime/checkout.html", {**context, "order": config["order"], "config": config})
    # Framing: only inside the SDK's iframe, and only by the origin it will post results to.
    ancestors = parent_origin or "'none'"
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    if not embedded:
        response["X-Frame-Options"] = "DENY"
    return response


def _saved_method(method: Any) -> dict[str, str]:
    """A returning customer's saved method as the checkout shows it: a label, no token."""
    if method.type == "card":
        label = f"{(method.card_network or 'card').title()} •••• {method.card_last4}"
        detail = f"expires {method.expiry_month:02d}/{method.expiry_year % 100:02d}"
    else:
        label, detail = f"UPI {method.vpa}", ""
    return {"id": method.id, "type": method.type, "label": label, "detail": detail}


def _key_of_merchant(key: str, merchant_id: object) -> bool:
    # A NUL byte cannot be in any stored key (and PostgreSQL refuses it in a query).
    return "\x00" not in key and ApiKey.objects.filter(key_id=key, merchant_id=merchant_id).exists()


@require_GET
def checkout_payment_status(request: HttpRequest, payment_id: str) -> JsonResponse:
    """``GET /checkout/payments/{id}``: the public snapshot plus, once final, the signed
    redirect to the payment's ``callback_url``. The checkout polls this every 2 s."""
    payment = Payment.objects.filter(pk=payment_id).first() if is_public_id(payment_id, "pay") else None
    if payment is None:
        return JsonResponse(envelope("NOT_FOUND_ERROR", "The requested resource does not exist"), status=404)
    return JsonResponse(
        {"payment": payment_public_snapshot(payment), "redirect_url": checkout_redirect_url(payment=payment)}
    )


@require_GET
@cache_control(public=True, max_age=300)
def checkout_js(request: HttpRequest) -> HttpResponse:
    """``GET /checkout.js``: the embeddable SDK (the same file as ``/static/checkout.js``)."""
    response = HttpResponse(SDK_PATH.read_bytes(), content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response
