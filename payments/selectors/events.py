"""The events API's read side: a gap-free, replayable, per-merchant log.

Visibility rule: an event is listed only when its writing transaction id is below the
*horizon*: every transaction of this database that could still add an event before it has
finished. The log is ordered by ``(txid, seq)``, which makes the visible set a *prefix* of
the order: a cursor taken now can never skip an event that commits later (ordering by
``seq`` alone could, because ``seq`` is drawn before commit).

The horizon is the statement snapshot's ``xmin`` with the transactions positively known to
run in *other* databases of the cluster left out: the smallest transaction id the snapshot
lists as running that ``pg_stat_activity`` does not show in another database, else the
snapshot's ``xmax``. Only this database's transactions can write ``events``, so this is as
safe as ``pg_snapshot_xmin`` (an id we cannot place, such as a prepared transaction or one
that ended meanwhile, still holds the horizon back), but a long transaction of another
application sharing the server (or, here, of other test runs) no longer delays the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from common.errors import InvalidInput, NotFound
from payments.event_patterns import event_types_q
from payments.models import Event, Merchant, merchant_scope

HORIZON_SQL = """(SELECT LEAST(
    (pg_snapshot_xmax(pg_current_snapshot())::text)::bigint,
    (SELECT min((x::text)::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
      WHERE ((x::text)::bigint & 4294967295) NOT IN (
        SELECT (backend_xid::text)::bigint FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS NOT NULL AND datname <> current_database()))))"""
_VISIBLE_XMIN = RawSQL(HORIZON_SQL, ())  # noqa: S611 - constant SQL, no parameters
MAX_LIMIT = 100


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    has_more: bool
    next_cursor: str | None


def _position(*, merchant: Merchant, event_id: str, field: str) -> tuple[int, int]:
    anchor = Event.objects.filter(**merchant_scope(merchant), id=event_id).values_list("txid", "seq").first()
    if anchor is None:
        raise InvalidInput(f"{field} is not an event id of this merchant", field=field, reason="invalid_cursor")
    return anchor


def event_list_for_merchant(
    *,
    merchant: Merchant,
    after: str | None = None,
    before: str | None = None,
    newest_first: bool = False,
    limit: int = 20,
    type: str | None = None,
    object_id: str | None = None,
) -> EventPage:
    """A page of the merchant's visible events. Oldest first by default, for machines:
    ``after`` (an event id, exclusive) is the replay cursor and ``next_cursor`` the id to
    pass as the next ``after``. ``newest_first`` is for people ("what happened lately"):
    ``before`` (exclusive) pages back in time and ``next_cursor`` is the id to pass as the
    next ``before``. ``after`` and ``before`` may bound either direction. Both directions
    page over the visible prefix, so neither skips nor repeats an event. ``type`` may be
    exact (``payment.success``), a family (``payment.*``) or ``*`` (payments.event_patterns)."""
    qs = Event.objects.filter(**merchant_scope(merchant), txid__lt=_VISIBLE_XMIN)
    if after:
        txid, seq = _position(merchant=merchant, event_id=after, field="after")
        qs = qs.filter(Q(txid__gt=txid) | Q(txid=txid, seq__gt=seq))
    if before:
        txid, seq = _position(merchant=merchant, event_id=before, field="before")
        qs = qs.filter(Q(txid__lt=txid) | Q(txid=txid, seq__lt=seq))
    if type:
        qs = qs.filter(event_types_q([type]))
    if object_id:
        qs = qs.filter(object_id=object_id)
    rows = list(qs.order_by(*(("-txid", "-seq") if newest_first else ("txid", "seq")))[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = before if newest_first else after
    return EventPage(events=rows, has_more=has_more, next_cursor=rows[-1].id if rows else cursor)


def event_get_for_merchant(*, merchant: Merchant, event_id: str) -> Event:
    event = Event.objects.filter(**merchant_scope(merchant), id=event_id).first()
    if event is None:
        raise NotFound("Event not found")
    return event


def event_log_after(*, merchant_id: object, txid: int, seq: int, visible_only: bool = True) -> QuerySet[Event]:
    """The merchant's events after the log position ``(txid, seq)``, in log order. With
    ``visible_only`` (the events API's rule above) the result is a gap-free prefix: a reader
    that advances its position through it never skips an event that commits later. The
    event streams' publishers read with this; without it, committed events the rule still
    holds back are counted too (a publisher waits for them rather than stopping)."""
    # A row comparison, not (txid > t OR txid = t AND seq > s): PostgreSQL walks the
    # (merchant, txid, seq) index from the position in order and stops at the LIMIT, where
    # the OR form became a bitmap scan plus a sort of the whole backlog behind the position.
    after = RawSQL('("events"."txid", "events"."seq") > (%s, %s)', (txid, seq), output_field=BooleanField())
    qs = Event.objects.filter(merchant_id=merchant_id).filter(after)
    if visible_only:
        qs = qs.filter(txid__lt=_VISIBLE_XMIN)
    return qs.order_by("txid", "seq")


def event_log_horizon() -> int:
    """The visibility horizon now: every transaction with a smaller id has finished."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {HORIZON_SQL}")
        return int(cursor.fetchone()[0])
