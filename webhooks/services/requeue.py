"""Starting a delivery's schedule anew: a manual retry (``delivery_retry``) and an endpoint's
recovery (``endpoint_recover``) both put rows back to pending and ask for a drain. Its own
module because both callers use it and the endpoint services sit below the delivery loop
(which disables endpoints), so neither may import the other for it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services.fanout import drains_enqueue


def deliveries_requeue(*, endpoint_id: str, delivery_ids: Sequence[str]) -> int:
    """Start a new schedule for these deliveries (pending, attempt 0, due now) unless one
    is in flight; enqueue a drain after commit."""
    if not delivery_ids:
        return 0
    now = timezone.now()
    count = (
        WebhookDelivery.objects.filter(pk__in=list(delivery_ids))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_retry_at=now,
            locked_until=None,
            lease_token=None,
            last_error="",
            updated_at=now,
        )
    )
    transaction.on_commit(lambda: drains_enqueue(endpoint_ids=[endpoint_id], first_attempt=False))
    return count
