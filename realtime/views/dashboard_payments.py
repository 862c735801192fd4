"""Dashboard payment page ``/dashboard/payments/{id}``: the payment with its timeline,
refunds, webhook deliveries and events, and the refund / capture / cancel forms. The
actions call the same services as the API (``refund_create``, ``payment_capture``,
``payment_cancel``), after the role check (and a support member's refund limit), and write
the dashboard audit row in the same transaction. Another merchant's payment is a 404."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from common.errors import DomainError, InvalidInput, NotFound
from common.http.errors import http_status
from common.http.views import json_view
from payments.models import Payment
from payments.money import format_amount
from payments.selectors.payments import payment_get_for_merchant
from payments.services.payments import payment_cancel as payment_cancel_service
from payments.services.payments import payment_capture as payment_capture_service
from payments.services.refunds import refund_create
from realtime.dashboard_selectors import payment_detail_for_merchant
from realtime.team import dashboard_audit_record, refund_allowed
from realtime.views.dashboard import role_required
from realtime.views.inputs import amount_from_major

SOURCE = "dashboard"
MESSAGES = {
    "refunded": "Refund created. It shows as processed once the provider confirms.",
    "captured": "Payment captured.",
    "cancelled": "Payment cancelled.",
}


def _page(request: HttpRequest, payment_id: str, *, error: str | None = None, status: int = 200) -> HttpResponse:
    try:
        detail = payment_detail_for_merchant(merchant=request.merchant, payment_id=payment_id)
    except NotFound:
        return render(request, "realtime/dashboard/not_found.html", {"what": "payment"}, status=404)
    context = {
        "nav": "transactions",
        "d": detail,
        "p": detail.payment,
        "refund_limit_display": format_amount(request.membership.refund_limit, detail.payment.currency),
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
    }
    return render(request, "realtime/dashboard/payment.html", context, status=status)


@require_GET
@role_required("payments_view")
@ensure_csrf_cookie
@never_cache
def payment_page(request: HttpRequest, payment_id: str) -> HttpResponse:
    return _page(request, payment_id)


@require_GET
@role_required("payments_view")
@json_view
def api_payment_detail(request: HttpRequest, payment_id: str) -> JsonResponse:
    """The page's live part re-rendered (the page swaps it in when an event of this payment
    or its refunds arrives): ``{version, html}``; the same template as the first render."""
    detail = payment_detail_for_merchant(merchant=request.merchant, payment_id=payment_id)
    html = render_to_string("realtime/dashboard/payment_live.html", {"d": detail, "p": detail.payment}, request)
    return JsonResponse({"version": detail.payment.version, "refunds": len(detail.refunds), "html": html})


def _after(request: HttpRequest, payment_id: str, done: str) -> HttpResponse:
    return HttpResponseRedirect(f"/dashboard/payments/{payment_id}?done={done}")


@require_POST
@role_required("payments_refund")
def payment_refund(request: HttpRequest, payment_id: str) -> HttpResponse:
    """Full (``full=on``) or partial (``amount`` in major units) refund with a reason."""
    try:
        payment = payment_get_for_merchant(merchant=request.merchant, payment_id=payment_id)
    except NotFound:
        return render(request, "realtime/dashboard/not_found.html", {"what": "payment"}, status=404)
    try:
        if request.POST.get("full") == "on":
            amount = payment_detail_for_merchant(merchant=request.merchant, payment_id=payment_id).refundable
            if amount <= 0:
                raise InvalidInput("Nothing is left to refund on this payment", reason="refund_exceeds_available")
        else:
            amount = amount_from_major(request.POST.get("amount"), payment.currency)
        refund_allowed(membership=request.membership, amount=amount)
        reason = (request.POST.get("reason") or "").strip() or None
        with transaction.atomic():
            refund = refund_create(
                merchant=request.merchant, payment_id=payment_id, amount=amount, reason=reason, source=SOURCE
            )
            dashboard_audit_record(
                membership=request.membership,
                action="refund.created",
                object_id=refund.pk,
                detail={"payment_id": payment_id, "amount": amount, "currency": payment.currency, "reason": reason},
            )
    except DomainError as exc:
        return _page(request, payment_id, error=exc.description, status=http_status(exc))
    return _after(request, payment_id, "refunded")


@require_POST
@role_required("payments_capture")
def payment_capture(request: HttpRequest, payment_id: str) -> HttpResponse:
    return _payment_transition(request, payment_id, service=payment_capture_service, done="captured")


@require_POST
@role_required("payments_cancel")
def payment_cancel(request: HttpRequest, payment_id: str) -> HttpResponse:
    return _payment_transition(request, payment_id, service=payment_cancel_service, done="cancelled")


def _payment_transition(
    request: HttpRequest, payment_id: str, *, service: Callable[..., Payment], done: str
) -> HttpResponse:
    """Capture or cancel through the API's own service, audited in the same transaction."""
    try:
        with transaction.atomic():
            payment = service(merchant=request.merchant, payment_id=payment_id, source=SOURCE)
            dashboard_audit_record(membership=request.membership, action=f"payment.{done}", object_id=payment.pk)
    except NotFound:
        return render(request, "realtime/dashboard/not_found.html", {"what": "payment"}, status=404)
    except DomainError as exc:
        return _page(request, payment_id, error=exc.description, status=http_status(exc))
    return _after(request, payment_id, done)
