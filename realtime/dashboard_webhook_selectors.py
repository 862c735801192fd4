"""Reads behind the dashboard's webhook endpoint pages and the delivery inspector.

The inspector shows each attempt's request as it was sent. The body is rebuilt with the
webhooks app's own ``payload_build``/``body_encode`` from the event, which is exactly how
``delivery_send`` builds it (every attempt of a delivery sends the same bytes); the headers
by the same ``delivery_request_build`` with the attempt's stored ``webhook_timestamp``, using the
endpoint's secrets as they stood at the attempt — known exactly unless the secret was
rotated after the attempt (the webhooks audit trail says when), in which case the
signatures are not shown. The browser test compares all of it with what a real receiver got."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from payments.models import Merchant
from webhooks.models import WebhookAttempt, WebhookAudit, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import attempts_for_delivery, delivery_list_for_merchant, endpoint_list_for_merchant
from webhooks.services.delivery import delivery_request_build
from webhooks.services.endpoints import endpoint_active_secrets
from webhooks.transport import USER_AGENT

ROTATION_ACTIONS = ("endpoint_rotate_secret",)  # every secret change (default endpoint too) goes through it
DELIVERY_PAGE_SIZE = 50


@dataclass
class AttemptView:
    attempt: WebhookAttempt
    headers: list[tuple[str, str]]
    signatures_known: bool


@dataclass
class DeliveryInspection:
    delivery: WebhookDelivery
    body: str  # the exact bytes sent, as UTF-8 text
    body_pretty: str
    attempts: list[AttemptView] = field(default_factory=list)


def _rotated_after(endpoint: WebhookEndpoint) -> Any:
    """When the endpoint's secret last changed (None: never since it was created)."""
    return (
        WebhookAudit.objects.filter(endpoint=endpoint, action__in=ROTATION_ACTIONS)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def delivery_inspect(*, merchant: Merchant, delivery: WebhookDelivery) -> DeliveryInspection:
    """The delivery with every attempt's request (headers, body) and outcome."""
    endpoint = delivery.endpoint
    body, _ = delivery_request_build(delivery=delivery, attempt_number=0, timestamp=0, secrets_active=None)
    text = body.decode("utf-8")
    last_rotation = _rotated_after(endpoint)
    inspection = DeliveryInspection(
        delivery=delivery, body=text, body_pretty=json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    )
    for attempt in attempts_for_delivery(delivery=delivery):
        known = last_rotation is None or last_rotation <= attempt.started_at
        _, ours = delivery_request_build(
            delivery=delivery,
            attempt_number=attempt.number,
            timestamp=attempt.webhook_timestamp,
            secrets_active=endpoint_active_secrets(endpoint=endpoint, now=attempt.started_at) if known else None,
        )
        # The transport adds these two to every request.
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **ours}
        inspection.attempts.append(AttemptView(attempt=attempt, headers=list(headers.items()), signatures_known=known))
    return inspection


def endpoint_rows_for_merchant(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    """Every live endpoint with its delivery counts (one grouped query)."""
    return endpoint_list_for_merchant(merchant=merchant).annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status="success")),
        failed=Count("deliveries", filter=Q(deliveries__status="failed")),
        pending=Count("deliveries", filter=Q(deliveries__status="pending")),
    )


def endpoint_delivery_page(
    *, merchant: Merchant, endpoint: WebhookEndpoint, page: int, status: str | None = None
) -> tuple[list[WebhookDelivery], bool]:
    """One page (50) of an endpoint's deliveries, newest first; and whether more exist."""
    rows = list(
        delivery_list_for_merchant(merchant=merchant, endpoint_id=endpoint.pk, status=status)[
            page * DELIVERY_PAGE_SIZE : (page + 1) * DELIVERY_PAGE_SIZE + 1
        ]
    )
    return rows[:DELIVERY_PAGE_SIZE], len(rows) > DELIVERY_PAGE_SIZE
