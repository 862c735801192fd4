"""Dashboard webhooks page: the merchant-level (default) endpoint's URL and secret, a test
event, and the delivery logs with retry. Every write calls the webhooks app's services;
this module only parses input (common.http.shapes, errors rendered by ``json_view``) and renders."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from rest_framework import serializers

from common.http.shapes import parse_json_body, validated
from common.http.views import json_view
from realtime import selectors
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import role_required
from webhooks import selectors as webhook_selectors
from webhooks.services import endpoints
from webhooks.services.delivery import delivery_retry


def _actor(request: HttpRequest) -> str:
    return f"dashboard:{request.user.get_username()}"


class WebhookConfigUpdate(serializers.Serializer):
    url = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)


def _config(endpoint: Any) -> dict[str, Any]:
    return {"url": endpoint.url, "secret": endpoint.secret, "endpoint_id": endpoint.pk}


@require_GET
@role_required("webhooks_view")
@ensure_csrf_cookie
def webhooks_page(request: HttpRequest) -> HttpResponse:
    endpoint = endpoints.endpoint_default_get_or_create(merchant=request.merchant)
    context = {
        "nav": "webhooks",
        "config": _config(endpoint) if request.can["webhooks_secret_view"] else {**_config(endpoint), "secret": None},
        "logs": selectors.webhook_log_rows(merchant=request.merchant),
    }
    return render(request, "realtime/dashboard/webhooks.html", context)


@require_POST
@role_required("webhooks_manage")
@json_view
def api_webhook_config(request: HttpRequest) -> JsonResponse:
    """Save the merchant-level webhook URL ("" clears it); SSRF-checked by the service."""
    url = validated(WebhookConfigUpdate, parse_json_body(request))["url"]
    with transaction.atomic():
        endpoint = endpoints.endpoint_default_set_url(merchant=request.merchant, url=url, actor=_actor(request))
        dashboard_audit_record(
            membership=request.membership, action="endpoint.url_set", object_id=endpoint.pk, detail={"url": url}
        )
    return JsonResponse(_config(endpoint))


@require_POST
@role_required("webhooks_manage")
@json_view
def api_webhook_regenerate_secret(request: HttpRequest) -> JsonResponse:
    """New secret at once (no grace period): the merchant asked for a new one from here."""
    with transaction.atomic():
        endpoint, _secret = endpoints.endpoint_default_regenerate_secret(
            merchant=request.merchant, actor=_actor(request), grace_seconds=0
        )
        dashboard_audit_record(membership=request.membership, action="endpoint.secret_rotated", object_id=endpoint.pk)
    return JsonResponse(_config(endpoint))


@require_POST
@role_required("webhooks_manage")
@json_view
def api_webhook_test(request: HttpRequest) -> JsonResponse:
    endpoint = endpoints.endpoint_default_get_or_create(merchant=request.merchant)
    event_id = endpoints.endpoint_test(endpoint=endpoint, actor=_actor(request))
    return JsonResponse({"event_id": event_id, "message": "Test webhook scheduled"}, status=202)


@require_GET
@role_required("webhooks_view")
def api_webhook_logs(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"data": selectors.webhook_log_rows(merchant=request.merchant)})


@require_POST
@role_required("webhooks_manage")
@json_view
def api_webhook_retry(request: HttpRequest, delivery_id: str) -> JsonResponse:
    delivery = webhook_selectors.delivery_get(merchant=request.merchant, delivery_id=delivery_id)
    with transaction.atomic():
        delivery = delivery_retry(delivery=delivery, actor=_actor(request))
        dashboard_audit_record(membership=request.membership, action="delivery.retried", object_id=delivery.pk)
    return JsonResponse({"id": delivery.pk, "status": "pending", "message": "Webhook retry scheduled"})
