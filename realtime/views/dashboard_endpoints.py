"""Dashboard pages for every webhook endpoint: list and create, one endpoint's page (edit
URL / event filter / description, rotate the secret with a grace period, disable and
enable, send a test, recover failures since a time, its deliveries 50 a page) and the
delivery inspector (each attempt's request as sent and its outcome; retry). Writes call the
webhooks app's services (``webhooks.services.endpoints``, ``delivery_retry``) after the role
check and record the dashboard audit row in the same transaction; forms redirect with a
message or re-render with the error."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from common.errors import DomainError, InvalidInput, NotFound
from common.http.errors import http_status
from realtime.dashboard_webhook_selectors import delivery_inspect, endpoint_delivery_page, endpoint_rows_for_merchant
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import role_required
from webhooks import selectors as webhook_selectors
from webhooks.models import DeliveryStatus, WebhookEndpoint
from webhooks.services import endpoints
from webhooks.services.delivery import delivery_retry

GRACE_CHOICES = [(0, "none: the old secret stops now"), (3600, "1 hour"), (86400, "24 hours"), (604800, "7 days")]
MESSAGES = {
    "created": "Endpoint created. Copy its signing secret into your receiver.",
    "saved": "Endpoint saved.",
    "rotated": "New signing secret generated.",
    "disabled": "Endpoint disabled: nothing is sent to it until you enable it.",
    "enabled": "Endpoint enabled.",
    "tested": "Test event sent; it appears in the deliveries below.",
    "recovered": "Failed deliveries queued again.",
    "retried": "Delivery queued again.",
}


def _actor(request: HttpRequest) -> str:
    return f"dashboard:{request.user.get_username()}"


def _event_types(text: object) -> list[str] | None:
    """ "payment.*, refund.processed" → a list (None = keep / all events)."""
    items = [part.strip() for part in str(text or "").replace("\n", ",").split(",") if part.strip()]
    return items or None


def _not_found(request: HttpRequest, what: str) -> HttpResponse:
    return render(request, "realtime/dashboard/not_found.html", {"what": what}, status=404)


def _list_page(request: HttpRequest, *, error: str | None = None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "webhooks",
        "endpoints": endpoint_rows_for_merchant(merchant=request.merchant),
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
        "form": request.POST if error else {},
    }
    return render(request, "realtime/dashboard/endpoints.html", context, status=status)


@require_GET
@role_required("webhooks_view")
@ensure_csrf_cookie
def endpoint_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@require_POST
@role_required("webhooks_manage")
def endpoint_create(request: HttpRequest) -> HttpResponse:
    try:
        with transaction.atomic():
            endpoint = endpoints.endpoint_create(
                merchant=request.merchant,
                url=request.POST.get("url", ""),
                description=request.POST.get("description", "")[:255],
                event_types=_event_types(request.POST.get("event_types")),
                actor=_actor(request),
            )
            dashboard_audit_record(
                membership=request.membership,
                action="endpoint.created",
                object_id=endpoint.pk,
                detail={"url": endpoint.url, "event_types": endpoint.event_types},
            )
    except DomainError as exc:
        return _list_page(request, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect(f"/dashboard/webhooks/endpoints/{endpoint.pk}?done=created")


def _endpoint_page(
    request: HttpRequest, endpoint: WebhookEndpoint, *, error: str | None = None, status: int = 200
) -> HttpResponse:
    raw_page = request.GET.get("page", "0")
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0
    status_filter = request.GET.get("status") if request.GET.get("status") in DeliveryStatus.values else None
    deliveries, more = endpoint_delivery_page(
        merchant=request.merchant, endpoint=endpoint, page=page, status=status_filter
    )
    context: dict[str, Any] = {
        "nav": "webhooks",
        "e": endpoint,
        "event_types_text": ", ".join(endpoint.event_types or ["*"]),
        "show_secret": request.can["webhooks_secret_view"],
        "grace_choices": GRACE_CHOICES,
        "deliveries": deliveries,
        "page": page,
        "more": more,
        "status_filter": status_filter or "",
        "statuses": DeliveryStatus.values,
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
        "form": request.POST if error else {},
    }
    return render(request, "realtime/dashboard/endpoint.html", context, status=status)


@require_GET
@role_required("webhooks_view")
@ensure_csrf_cookie
@never_cache
def endpoint_page(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    try:
        endpoint = webhook_selectors.endpoint_get(merchant=request.merchant, endpoint_id=endpoint_id)
    except NotFound:
        return _not_found(request, "webhook endpoint")
    return _endpoint_page(request, endpoint)


def _since(raw: str) -> Any:
    try:
        since = parse_datetime(raw.strip()) if raw.strip() else None
    except ValueError:
        since = None
    if since is None:
        raise InvalidInput("since must be a date and time (UTC)", field="since", reason="invalid_since")
    return since if since.tzinfo else since.replace(tzinfo=UTC)


@require_POST
@role_required("webhooks_manage")
def endpoint_action(request: HttpRequest, endpoint_id: str, action: str) -> HttpResponse:
    """``save``, ``rotate``, ``disable``, ``enable``, ``test`` or ``recover`` one endpoint."""
    try:
        endpoint = webhook_selectors.endpoint_get(merchant=request.merchant, endpoint_id=endpoint_id)
    except NotFound:
        return _not_found(request, "webhook endpoint")
    actor = _actor(request)
    detail: dict[str, Any] = {}
    try:
        with transaction.atomic():
            if action == "save":
                endpoint = endpoints.endpoint_update(
                    endpoint=endpoint,
                    actor=actor,
                    url=request.POST.get("url", ""),
                    description=request.POST.get("description", ""),
                    event_types=_event_types(request.POST.get("event_types")) or ["*"],
                )
                detail = {"url": endpoint.url, "event_types": endpoint.event_types, "description": endpoint.description}
                done = "saved"
            elif action == "rotate":
                raw = request.POST.get("grace_period_seconds", "")
                if raw not in {str(seconds) for seconds, _ in GRACE_CHOICES}:
                    raise InvalidInput(
                        "Choose a grace period", field="grace_period_seconds", reason="invalid_grace_period"
                    )
                endpoint, _secret = endpoints.endpoint_rotate_secret(
                    endpoint=endpoint, actor=actor, grace_seconds=int(raw)
                )
                detail, done = {"grace_period_seconds": int(raw)}, "rotated"
            elif action == "disable":
                endpoints.endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.MANUAL, actor=actor)
                done = "disabled"
            elif action == "enable":
                endpoints.endpoint_enable(endpoint=endpoint, actor=actor)
                done = "enabled"
            elif action == "test":
                detail, done = {"event_id": endpoints.endpoint_test(endpoint=endpoint, actor=actor)}, "tested"
            elif action == "recover":
                since = _since(request.POST.get("since", ""))
                count = endpoints.endpoint_recover(endpoint=endpoint, since=since, actor=actor)
                detail, done = {"since": since.isoformat(), "count": count}, "recovered"
            else:
                return _not_found(request, "action")
            dashboard_audit_record(
                membership=request.membership, action=f"endpoint.{done}", object_id=endpoint.pk, detail=detail
            )
    except DomainError as exc:
        endpoint.refresh_from_db()
        return _endpoint_page(request, endpoint, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect(f"/dashboard/webhooks/endpoints/{endpoint.pk}?done={done}")


def _delivery_page(request: HttpRequest, delivery: Any, *, error: str | None = None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "webhooks",
        "i": delivery_inspect(merchant=request.merchant, delivery=delivery),
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
    }
    return render(request, "realtime/dashboard/delivery.html", context, status=status)


@require_GET
@role_required("webhooks_view")
@ensure_csrf_cookie
@never_cache
def delivery_page(request: HttpRequest, delivery_id: str) -> HttpResponse:
    try:
        delivery = webhook_selectors.delivery_get(merchant=request.merchant, delivery_id=delivery_id)
    except NotFound:
        return _not_found(request, "webhook delivery")
    return _delivery_page(request, delivery)


@require_POST
@role_required("webhooks_manage")
def delivery_retry_view(request: HttpRequest, delivery_id: str) -> HttpResponse:
    try:
        delivery = webhook_selectors.delivery_get(merchant=request.merchant, delivery_id=delivery_id)
    except NotFound:
        return _not_found(request, "webhook delivery")
    try:
        with transaction.atomic():
            delivery_retry(delivery=delivery, actor=_actor(request))
            dashboard_audit_record(membership=request.membership, action="delivery.retried", object_id=delivery.pk)
    except DomainError as exc:
        return _delivery_page(request, delivery, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect(f"/dashboard/webhooks/deliveries/{delivery.pk}?done=retried")
