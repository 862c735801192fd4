"""Reads of event destinations: per merchant, one by id, the events after a cursor, the lag,
the API rendering."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from common.errors import NotFound
from payments.event_patterns import ALL, event_types_q
from payments.models import Event, Merchant, merchant_scope
from payments.selectors.events import event_log_after
from payments.snapshots import iso
from webhooks.destinations.brokers import broker_url_with_credentials
from webhooks.destinations.models import EventDestination

# Events addressed to one webhook endpoint (its test button); never streamed.
NOT_STREAMED = ("webhook.test",)
# Counting stops here: a lag beyond it is shown as this number (the count stays cheap).
LAG_COUNT_MAX = 100_000


def destination_list_for_merchant(*, merchant: Merchant) -> QuerySet[EventDestination]:
    return EventDestination.objects.filter(**merchant_scope(merchant)).order_by("created_at", "id")


def destination_get(*, merchant: Merchant, destination_id: str) -> EventDestination:
    destination = EventDestination.objects.filter(**merchant_scope(merchant), pk=destination_id).first()
    if destination is None:
        raise NotFound("Event destination not found")
    return destination


def destination_events_after_cursor(
    *, destination: EventDestination, visible_only: bool = True, after: tuple[int, int] | None = None
) -> QuerySet[Event]:
    """The destination's events (its filter applied) after its cursor (or ``after``), in
    log order."""
    txid, seq = after or (destination.cursor_txid, destination.cursor_seq)
    return (
        event_log_after(merchant_id=destination.merchant_id, txid=txid, seq=seq, visible_only=visible_only)
        .filter(mode=destination.mode)  # test and live are separate worlds
        .filter(event_types_q(destination.event_types))
        .exclude(type__in=NOT_STREAMED)
    )


def destination_lag(destination: EventDestination) -> int:
    """Committed events the destination's filter matches that are not yet published."""
    pending = destination_events_after_cursor(destination=destination, visible_only=False)
    return pending[:LAG_COUNT_MAX].count()


def destination_snapshot(destination: EventDestination, *, lag: bool = True) -> dict[str, Any]:
    """The destination as the API, the dashboard and events show it: credentials masked."""
    target = dict(destination.target)
    target["url"] = broker_url_with_credentials(url=target["url"], credentials=destination.credentials).masked
    return {
        "id": destination.pk,
        "type": destination.type,
        "mode": destination.mode,
        "target": target,
        "event_types": destination.event_types or [ALL],
        "description": destination.description,
        "enabled": destination.enabled,
        "status": destination.status,
        "lag": destination_lag(destination) if lag else None,
        "last_error": destination.last_error or None,
        "failing_since": iso(destination.failing_since),
        "published_total": destination.published_total,
        "last_published_at": iso(destination.last_published_at),
        "created_at": iso(destination.created_at),
        "updated_at": iso(destination.updated_at),
    }
