"""Reads of the webhooks app, always scoped to one merchant (another merchant's id: 404)
and, when a key acts, to its mode (an endpoint and its deliveries belong to one world)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from common.errors import NotFound
from payments.event_patterns import event_types_q
from payments.models import Merchant, merchant_scope
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_list_for_merchant(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(**merchant_scope(merchant), deleted_at__isnull=True).order_by("created_at")


def endpoint_get(*, merchant: Merchant, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoint_list_for_merchant(merchant=merchant).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


def _delivery_scope(merchant: Merchant) -> dict:
    if merchant.acting_mode is None:
        return {"merchant": merchant}
    return {"merchant": merchant, "endpoint__mode": merchant.acting_mode}


def delivery_list_for_merchant(
    *,
    merchant: Merchant,
    status: str | None = None,
    event: str | None = None,
    endpoint_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(**_delivery_scope(merchant))
    if status:
        qs = qs.filter(status=status)
    if event:
        qs = qs.filter(event_types_q([event], field="event_type"))
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    return qs.select_related("event").order_by("-created_at", "-id")


def delivery_get(*, merchant: Merchant, delivery_id: str) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.filter(**_delivery_scope(merchant), pk=delivery_id).select_related("event").first()
    )
    if delivery is None:
        raise NotFound("webhook delivery not found")
    return delivery


def attempts_for_delivery(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("started_at", "id")
