"""The events API's read side: a gap-free, replayable, per-merchant log.

Visibility rule: an event is listed only when its writing transaction id is below
``pg_snapshot_xmin(pg_current_snapshot())``, i.e. when every transaction that could still
add an event before it has finished. The log is ordered by ``(txid, seq)``, which makes
the visible set a *prefix* of the order: a cursor taken now can never skip an event that
commits later (ordering by ``seq`` alone could, because ``seq`` is drawn before commit).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.db.models.expressions import RawSQL

from payments.api.errors import BadRequest, NotFound
from payments.models import Event, Merchant

_VISIBLE_XMIN = RawSQL("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint", ())
MAX_LIMIT = 100


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    has_more: bool
    next_cursor: str | None


def event_list_for_merchant(
    *,
    merchant: Merchant,
    after: str | None = None,
    limit: int = 20,
    type: str | None = None,
    object_id: str | None = None,
) -> EventPage:
    """Events after the cursor ``after`` (an event id), oldest first. ``type`` may be exact
    (``payment.success``) or a family (``payment.*``)."""
    qs = Event.objects.filter(merchant=merchant, txid__lt=_VISIBLE_XMIN)
    if after:
        anchor = Event.objects.filter(merchant=merchant, id=after).values_list("txid", "seq").first()
        if anchor is None:
            raise BadRequest("after is not an event id of this merchant", field="after", reason="invalid_cursor")
        txid, seq = anchor
        qs = qs.filter(Q(txid__gt=txid) | Q(txid=txid, seq__gt=seq))
    if type:
        qs = qs.filter(type__startswith=type[:-1]) if type.endswith("*") else qs.filter(type=type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    rows = list(qs.order_by("txid", "seq")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(events=rows, has_more=has_more, next_cursor=rows[-1].id if rows else after)


def event_get_for_merchant(*, merchant: Merchant, event_id: str) -> Event:
    event = Event.objects.filter(merchant=merchant, id=event_id).first()
    if event is None:
        raise NotFound("Event not found")
    return event
