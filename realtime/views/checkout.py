"""Hosted checkout page, its status endpoint and ``/checkout.js``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from payments.api.errors import envelope
from payments.models import ApiKey, Payment
from payments.money import format_amount
from payments.snapshots import order_public_snapshot, payment_snapshot
from realtime.checkout import checkout_redirect_url, parent_origin_clean
from realtime.push import public_payment
from realtime.selectors import order_for_checkout

SDK_PATH = Path(settings.BASE_DIR) / "static" / "checkout.js"


@require_GET
@xframe_options_exempt
def checkout_page(request: HttpRequest) -> HttpResponse:
    """``GET /checkout?order_id=…[&embedded=true&parent_origin=…&key=…]``."""
    embedded = request.GET.get("embedded") == "true"
    parent_origin = parent_origin_clean(request.GET.get("parent_origin")) if embedded else None
    order = order_for_checkout(order_id=request.GET.get("order_id", ""))
    key = request.GET.get("key")
    if order is not None and key and not ApiKey.objects.filter(key_id=key, merchant_id=order.merchant_id).exists():
        order = None  # the SDK's key must belong to the order's merchant
    context = {"embedded": embedded}
    if order is None:
        response = render(request, "realtime/checkout_missing.html", context, status=404)
    else:
        config = {
            "order": {**order_public_snapshot(order), "amount_display": format_amount(order.amount, order.currency)},
            "embedded": embedded,
            "parentOrigin": parent_origin,
        }
        response = render(request, "realtime/checkout.html", {**context, "order": config["order"], "config": config})
    # Framing: only inside the SDK's iframe, and only by the origin it will post results to.
    ancestors = parent_origin or "'none'"
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    if not embedded:
        response["X-Frame-Options"] = "DENY"
    return response


@require_GET
def checkout_payment_status(request: HttpRequest, payment_id: str) -> JsonResponse:
    """``GET /checkout/payments/{id}``: the public snapshot plus, once final, the signed
    redirect to the payment's ``callback_url``. The checkout polls this every 2 s."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return JsonResponse(envelope("NOT_FOUND_ERROR", "The requested resource does not exist"), status=404)
    return JsonResponse(
        {"payment": public_payment(payment_snapshot(payment)), "redirect_url": checkout_redirect_url(payment=payment)}
    )


@require_GET
@cache_control(public=True, max_age=300)
def checkout_js(request: HttpRequest) -> HttpResponse:
    """``GET /checkout.js``: the embeddable SDK (the same file as ``/static/checkout.js``)."""
    response = HttpResponse(SDK_PATH.read_bytes(), content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response
