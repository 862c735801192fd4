"""The lifecycle of payments, refunds and orders: the one module that changes their state.

Three things live here and nowhere else.

**The transition tables** (:data:`PAYMENT`, :data:`REFUND`, :data:`ORDER`): from each status,
the statuses an object may move to and the event each move announces. ``None`` as a source is
the object's creation; a status that "moves" to itself is a change that keeps the status (a
payment handed to its provider, a capture). *Corrections* (failed/cancelled → success or
duplicate, success → failed; an order paid → attempted) are a second table that only
reconciliation and staff use (``correction=True``): a provider notification must never move a
payment backwards.

**One locking strategy.** The row is locked with ``SELECT … FOR UPDATE`` (:func:`_lock`), the
move is checked against the table under that lock, and the status is changed by a
compare-and-set ``UPDATE … WHERE pk = … AND status = <the status read under the lock>``.
Rows are locked in one order: a payment, then its order, then its refunds, never the other
way round, so two transactions never wait for each other in a circle. The create paths lock
only the order (its single ``UPDATE … RETURNING``): their payment is new, no one else sees it.

**One builder** of what a change writes: :func:`change_build` makes the timeline row and the
outbox event of a change (the type from the table, version and snapshot from the object), and
:func:`changes_write` writes them, after the rows a change creates (an implicit order, the
payment, the refund), as ONE statement of data-modifying CTEs whose columns come from the
models. The payment-create hot path, refund create, every transition and reconciliation's bulk
events are that statement.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone

from common.correlation import get_correlation_id
from payments.ids import new_event_id
from payments.models import Event, Merchant, Order, Payment, Refund, TimelineEntry, merchant_scope
from payments.outbox import outbox_nudge_after_commit
from payments.snapshots import payment_snapshot, refund_snapshot
from payments.states import OrderStatus, PaymentStatus, RefundStatus

# from status (None: the object is being created) -> {to status: the event the move announces}
Moves = Mapping[str | None, Mapping[str, str | None]]


class MoveNotInTable(ValueError):
    """A change the lifecycle's table does not have: a bug in the caller, never user input."""


@dataclass(frozen=True)
class Lifecycle:
    """One kind of object's state machine and how its changes are written."""

    object_type: str  # the timeline rows' and events' object_type
    model: type[models.Model]
    # None: a state machine the core does not own (reconciliation's discrepancies): the caller
    # names the event of each change.
    moves: Moves | None
    corrections: Moves = field(default_factory=dict)
    # Builds the event's ``data[data_key]``; None: its changes write no event (orders).
    snapshot: Callable[[Any], dict[str, Any]] | None = None
    data_key: str = ""
    # The attribute naming the payment whose timeline gets a row per change; None: no timeline.
    timeline_payment: str | None = None

    def sources_for(self, to_status: str, *, correction: bool = False) -> frozenset[str]:
        """The statuses a move to ``to_status`` may start from (creation and changes that
        keep the status are not moves)."""
        tables = (self.moves or {}, self.corrections) if correction else (self.moves or {},)
        return frozenset(
            source
            for table in tables
            for source, targets in table.items()
            if source is not None and source != to_status and to_status in targets
        )

    def event_for(self, from_status: str | None, to_status: str) -> str | None:
        """The event the table gives the change ``from_status`` → ``to_status``."""
        for table in (self.moves or {}, self.corrections):
            targets = table.get(from_status)
            if targets is not None and to_status in targets:
                return targets[to_status]
        raise MoveNotInTable(f"{self.object_type}: {from_status} -> {to_status} is not in its transition table")

    def event_types(self) -> frozenset[str]:
        """Every event type this lifecycle's changes announce."""
        tables = (self.moves or {}, self.corrections)
        return frozenset(e for table in tables for targets in table.values() for e in targets.values() if e)


PAYMENT = Lifecycle(
    object_type="payment",
    model=Payment,
    moves={
        None: {PaymentStatus.PENDING: "payment.created"},
        PaymentStatus.PENDING: {
            PaymentStatus.PENDING: "payment.pending",  # handed to the provider (submitted_at, provider_reference)
            PaymentStatus.SUCCESS: "payment.success",
            PaymentStatus.FAILED: "payment.failed",
            PaymentStatus.CANCELLED: "payment.cancelled",
            PaymentStatus.DUPLICATE: "payment.duplicate",
        },
        PaymentStatus.SUCCESS: {PaymentStatus.SUCCESS: "payment.captured"},
        PaymentStatus.FAILED: {},
        PaymentStatus.CANCELLED: {},
        PaymentStatus.DUPLICATE: {},
    },
    # The provider settled a payment we hold as failed or cancelled: it was charged after all;
    # or reconciliation/staff found a success the provider never settled.
    corrections={
        PaymentStatus.FAILED: {
            PaymentStatus.SUCCESS: "payment.success",
            PaymentStatus.DUPLICATE: "payment.duplicate",
        },
        PaymentStatus.CANCELLED: {
            PaymentStatus.SUCCESS: "payment.success",
            PaymentStatus.DUPLICATE: "payment.duplicate",
        },
        PaymentStatus.SUCCESS: {PaymentStatus.FAILED: "payment.failed"},
    },
    snapshot=payment_snapshot,
    data_key="payment",
    timeline_payment="id",
)

REFUND = Lifecycle(
    object_type="refund",
    model=Refund,
    moves={
        None: {RefundStatus.PENDING: "refund.created"},
        RefundStatus.PENDING: {
            RefundStatus.PROCESSED: "refund.processed",
            RefundStatus.FAILED: "refund.failed",
        },
        RefundStatus.PROCESSED: {},
        RefundStatus.FAILED: {},
    },
    snapshot=refund_snapshot,
    data_key="refund",
    timeline_payment="payment_id",
)

# Orders have neither a timeline nor events of their own: their payments' events say it.
ORDER = Lifecycle(
    object_type="order",
    model=Order,
    moves={
        # created by the API; an implicit order is created at its first attempt
        None: {OrderStatus.CREATED: None, OrderStatus.ATTEMPTED: None},
        # its first payment is created / a payment of it succeeds
        OrderStatus.CREATED: {OrderStatus.ATTEMPTED: None, OrderStatus.PAID: None},
        OrderStatus.ATTEMPTED: {OrderStatus.PAID: None},
        OrderStatus.PAID: {},
    },
    # A correction away from success unpays the order (it had only that successful payment, a
    # constraint): the customer may pay again.
    corrections={OrderStatus.PAID: {OrderStatus.ATTEMPTED: None}},
)

LIFECYCLES = (PAYMENT, REFUND, ORDER)


def _in_table(lifecycle: Lifecycle, from_status: str | None, to_status: str) -> tuple[str | None, str]:
    lifecycle.event_for(from_status, to_status)  # raises MoveNotInTable, at import
    return from_status, to_status


# The create paths apply these moves of ORDER inside their own single statements (the hot
# path counts its queries): an implicit order is inserted ``attempted``; an existing one moves
# ``created`` → ``attempted`` when its first payment is created.
IMPLICIT_ORDER_STATUS = _in_table(ORDER, None, OrderStatus.ATTEMPTED)[1]
ORDER_FIRST_ATTEMPT = _in_table(ORDER, OrderStatus.CREATED, OrderStatus.ATTEMPTED)


def payment_sources_for(to_status: str, *, correction: bool = False) -> frozenset[str]:
    """The statuses a payment may move to ``to_status`` from."""
    return PAYMENT.sources_for(to_status, correction=correction)


def refund_sources_for(to_status: str) -> frozenset[str]:
    return REFUND.sources_for(to_status)


# --- the builder --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What one change writes: its timeline row (None for objects without a timeline) and its
    outbox event, of the same version, from one snapshot."""

    timeline: TimelineEntry | None
    event: Event


def change_build(
    *,
    lifecycle: Lifecycle,
    obj: Any,
    from_status: str | None,
    detail: str = "",
    source: str = "",
    event_type: str | None = None,
    mode: str | None = None,
    now: datetime | None = None,
) -> Change:
    """The timeline row and outbox event of one change of ``obj``, which already holds its new
    status and version. The event type is the table's for ``from_status`` → ``obj.status``
    (``event_type``, if given, must be the same); a lifecycle without a table names it through
    ``event_type``. ``mode`` overrides the object's own (an object without one). Writes
    nothing: :func:`changes_write` does. Raises :class:`MoveNotInTable`."""
    if lifecycle.moves is not None:
        table_event = lifecycle.event_for(from_status, obj.status)
        if event_type is not None and event_type != table_event:
            raise MoveNotInTable(f"{lifecycle.object_type}: {from_status} -> {obj.status} announces {table_event}")
        event_type = table_event
    if event_type is None or lifecycle.snapshot is None:
        raise MoveNotInTable(f"{lifecycle.object_type}: {from_status} -> {obj.status} announces no event")
    now = now or timezone.now()
    timeline = None
    if lifecycle.timeline_payment is not None:
        timeline = TimelineEntry(
            object_type=lifecycle.object_type,
            object_id=obj.id,
            payment_id=getattr(obj, lifecycle.timeline_payment),
            from_status=from_status,
            to_status=obj.status,
            version=obj.version,
            detail=detail,
            source=source,
            created_at=now,
        )
    event = Event(
        id=new_event_id(),
        merchant_id=obj.merchant_id,
        mode=mode or obj.mode,
        type=event_type,
        object_type=lifecycle.object_type,
        object_id=obj.id,
        version=obj.version,
        data={lifecycle.data_key: lifecycle.snapshot(obj)},
        correlation_id=get_correlation_id(),
        created_at=now,
    )
    return Change(timeline=timeline, event=event)


def changes_write(changes: Sequence[Change], *, before: Sequence[models.Model] = ()) -> None:
    """Insert the rows ``before`` (what the change creates: an implicit order, the payment, the
    refund), then every change's timeline row and event, as ONE statement. Its data-modifying
    CTEs are atomic together and foreign keys are checked at its end, so the hot create path
    needs no transaction of its own. Sets each event's ``seq``/``txid`` and nudges the outbox
    dispatcher once the current transaction commits. Inside ``atomic`` unless it is the whole
    transaction."""
    events = {c.event.id: c.event for c in changes}
    if not events:
        return
    groups: list[tuple[type[models.Model], list[models.Model]]] = []
    for row in (*before, *(c.timeline for c in changes if c.timeline is not None), *events.values()):
        if groups and groups[-1][0] is type(row):
            groups[-1][1].append(row)
        else:
            groups.append((type(row), [row]))
    # One parameter per table (its rows as a JSON array): psycopg caches the conversion of a
    # statement only up to 50 parameters, and the hot path cannot afford to lose that cache.
    params = [json.dumps([_row_values(row) for row in rows], default=_json_value) for _, rows in groups]
    with connection.cursor() as cursor:
        cursor.execute(_insert_statement(tuple(model for model, _ in groups)), params)
        for event_id, seq, txid in cursor.fetchall():
            events[event_id].seq, events[event_id].txid = seq, txid
    for _, rows in groups:
        for row in rows:
            row._state.adding, row._state.db = False, connection.alias
    outbox_nudge_after_commit()


# Field types whose values JSON carries to PostgreSQL unchanged, with _json_value's help.
_PLAIN_FIELDS = (
    models.CharField,
    models.IntegerField,
    models.BooleanField,
    models.DateTimeField,
    models.UUIDField,
    models.TextField,
    models.JSONField,
)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value changes_write knows")


@functools.cache
def _insert_columns(model: type[models.Model]) -> tuple[tuple[str, str], ...]:
    """``(attname, column)`` of the columns an instance supplies: every concrete field but an
    auto-increment key and a value only the database fills (a ``db_default`` without a Python
    default, like ``events.txid``)."""
    columns = []
    for f in model._meta.concrete_fields:
        if isinstance(f, AutoFieldMixin) or (f.has_db_default() and not f.has_default()):
            continue
        kind = f.target_field if isinstance(f, models.ForeignKey) else f
        if not isinstance(kind, _PLAIN_FIELDS):
            raise TypeError(f"{model.__name__}.{f.name}: {type(kind).__name__} needs adapting; add it here")
        columns.append((f.attname, f.column))
    return tuple(columns)


def _row_values(row: models.Model) -> dict[str, Any]:
    return {column: getattr(row, attname) for attname, column in _insert_columns(type(row))}


@functools.lru_cache(maxsize=32)
def _insert_statement(models_: tuple[type[models.Model], ...]) -> str:
    """``WITH c0 AS (INSERT …), c1 AS (INSERT …) INSERT INTO events … RETURNING id, seq, txid``:
    one INSERT per table, of the rows its JSON-array parameter holds, the last one the events."""
    qn = connection.ops.quote_name
    inserts = []
    for model in models_:
        # Names come from the models' metadata; the rows are the one parameter.
        table = qn(model._meta.db_table)
        names = ", ".join(qn(column) for _, column in _insert_columns(model))
        rows = f"jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        inserts.append(f"INSERT INTO {table} ({names}) SELECT {names} FROM {rows}")  # noqa: S608
    *ctes, last = inserts
    head = "WITH " + ", ".join(f"c{i} AS ({sql})" for i, sql in enumerate(ctes)) + " " if ctes else ""
    return f"{head}{last} RETURNING id, seq, txid"


# --- the lock ---------------------------------------------------------------------------


def _lock(lifecycle: Lifecycle, pk: str, **scope: Any) -> Any | None:
    """The row, locked until the transaction ends (``SELECT … FOR UPDATE``). Lock order:
    payment, then its order, then its refunds (see the module)."""
    return lifecycle.model.objects.select_for_update().filter(pk=pk, **scope).first()


def payment_lock(*, payment_id: str, merchant: Merchant | None = None) -> Payment | None:
    """The payment (of ``merchant``, if given: its scope), locked; None if there is none."""
    return _lock(PAYMENT, payment_id, **(merchant_scope(merchant) if merchant is not None else {}))


def order_lock(*, order_id: str) -> Order | None:
    """The order, locked. Take it after its payment's lock, never before."""
    return _lock(ORDER, order_id)


# --- applying the tables ----------------------------------------------------------------


@dataclass(frozen=True)
class TransitionResult:
    changed: bool
    obj: Any  # the Payment, Refund or Order as it is now
    from_status: str | None = None  # its status before (when changed)


def _change(
    lifecycle: Lifecycle,
    obj: Any,
    *,
    to_status: str,
    changes: Mapping[str, Any],
    detail: str,
    source: str,
    now: datetime,
) -> TransitionResult:
    """Compare-and-set the locked ``obj`` to ``to_status`` with ``changes`` (version +1 for
    an object with events) and write the change's timeline row and event."""
    from_status = obj.status
    values = {**changes, "status": to_status, "updated_at": now}
    if lifecycle.snapshot is not None:
        values["version"] = obj.version + 1
    if not lifecycle.model.objects.filter(pk=obj.pk, status=from_status).update(**values):
        # Only a writer that bypassed the row lock can get here; report it as a lost race.
        return TransitionResult(changed=False, obj=lifecycle.model.objects.get(pk=obj.pk))
    for name, value in values.items():
        setattr(obj, name, value)
    if lifecycle.snapshot is not None:
        changes_write(
            [change_build(lifecycle=lifecycle, obj=obj, from_status=from_status, detail=detail, source=source, now=now)]
        )
    return TransitionResult(changed=True, obj=obj, from_status=from_status)


def _transition(
    lifecycle: Lifecycle,
    *,
    pk: str,
    to_status: str,
    correction: bool = False,
    changes: Mapping[str, Any] | None = None,
    detail: str = "",
    source: str = "",
    now: datetime | None = None,
) -> TransitionResult:
    """The one function that applies a table: lock, check the move, compare-and-set, write
    the change. A move the table does not allow from the current status changes nothing and
    reports so. Raises ``DoesNotExist`` for an unknown ``pk``. Inside a transaction."""
    obj = _lock(lifecycle, pk)
    if obj is None:
        raise lifecycle.model.DoesNotExist(f"{lifecycle.object_type} {pk} does not exist")
    if obj.status not in lifecycle.sources_for(to_status, correction=correction):
        return TransitionResult(changed=False, obj=obj)
    return _change(
        lifecycle,
        obj,
        to_status=to_status,
        changes=changes or {},
        detail=detail,
        source=source,
        now=now or timezone.now(),
    )


def payment_transition(
    *,
    payment_id: str,
    to_status: str,
    source: str,
    detail: str = "",
    error_code: str | None = None,
    error_description: str | None = None,
    provider_reference: str | None = None,
    correction: bool = False,
) -> TransitionResult:
    """Move a payment to ``to_status`` if :data:`PAYMENT` allows it from its current status
    (``correction=True``, reconciliation and staff: its corrections too): version +1, timeline
    row, event; a move to or from ``success`` moves its order to ``paid`` / ``attempted``."""
    changes: dict[str, Any] = {}
    if to_status == PaymentStatus.SUCCESS:
        changes.update(error_code=None, error_description=None)
    elif error_code is not None or error_description is not None:
        changes.update(error_code=error_code, error_description=error_description)
    if provider_reference is not None:
        changes["provider_reference"] = provider_reference
    with transaction.atomic():
        result = _transition(
            PAYMENT,
            pk=payment_id,
            to_status=to_status,
            correction=correction,
            changes=changes,
            detail=detail,
            source=source,
        )
        if result.changed and PaymentStatus.SUCCESS in (result.from_status, to_status):
            order_transition(
                order_id=result.obj.order_id,
                to_status=OrderStatus.PAID if to_status == PaymentStatus.SUCCESS else OrderStatus.ATTEMPTED,
                correction=correction,
            )
    return result


def payment_change(*, payment: Payment, changes: Mapping[str, Any], detail: str, source: str) -> Payment:
    """A change of a payment the caller has locked (:func:`payment_lock`) that keeps its status
    (handed to the provider, captured): ``changes``, version +1, the table's event for it."""
    return _change(
        PAYMENT, payment, to_status=payment.status, changes=changes, detail=detail, source=source, now=timezone.now()
    ).obj


def payment_record_event(
    *, payment: Payment, event_type: str, from_status: str | None, detail: str, source: str
) -> None:
    """Timeline row + outbox event for a payment row the caller wrote itself, at its current
    version (inside a transaction). ``event_type`` must be the table's for the change."""
    changes_write(
        [
            change_build(
                lifecycle=PAYMENT,
                obj=payment,
                from_status=from_status,
                event_type=event_type,
                detail=detail,
                source=source,
            )
        ]
    )


def payment_record_events(
    *,
    payments: Sequence[Payment],
    event_type: str,
    from_status: str | None,
    detail: str,
    source: str,
    correlation: Mapping[str, str | None] | None = None,
) -> None:
    """Batch form of :func:`payment_record_event`: the timeline rows and events of payments the
    caller moved itself, one statement for all. Each event carries its own payment's
    correlation id from ``correlation`` (payment id -> id), or without it the current one."""
    changes = []
    for payment in payments:
        change = change_build(
            lifecycle=PAYMENT,
            obj=payment,
            from_status=from_status,
            event_type=event_type,
            detail=detail,
            source=source,
        )
        if correlation is not None:
            change.event.correlation_id = correlation.get(payment.id)
        changes.append(change)
    changes_write(changes)


def refund_transition(
    *,
    refund_id: str,
    to_status: str,
    source: str,
    detail: str = "",
    error_code: str | None = None,
    error_description: str | None = None,
    provider_reference: str | None = None,
) -> TransitionResult:
    """Move a refund to ``processed`` or ``failed`` (from ``pending`` only, :data:`REFUND`)."""
    now = timezone.now()
    changes: dict[str, Any] = {}
    if to_status == RefundStatus.PROCESSED:
        changes["processed_at"] = now
    if error_code is not None or error_description is not None:
        changes.update(error_code=error_code, error_description=error_description)
    if provider_reference is not None:
        changes["provider_reference"] = provider_reference
    with transaction.atomic():
        return _transition(
            REFUND, pk=refund_id, to_status=to_status, changes=changes, detail=detail, source=source, now=now
        )


def order_transition(*, order_id: str, to_status: str, correction: bool = False) -> TransitionResult:
    """Move an order to ``to_status`` if :data:`ORDER` allows it (an order already there is
    unchanged). Called with its payment locked: the lock order is payment, then order."""
    with transaction.atomic():
        return _transition(ORDER, pk=order_id, to_status=to_status, correction=correction)
