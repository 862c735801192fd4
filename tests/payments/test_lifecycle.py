"""The one lifecycle writer (payments.services.transitions): every change of a payment or a
refund writes exactly one timeline row and one outbox event, built by ``change_build`` and
written by ``changes_write`` as one statement; the event types the tables announce are the
documented ones; orders move only as their table says; nothing else writes timeline rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction

from payments.models import Event, Order, Payment, Refund, TimelineEntry
from payments.services import transitions
from payments.services.payments import payment_capture
from payments.services.refunds import refund_create
from payments.services.transitions import (
    ORDER,
    PAYMENT,
    REFUND,
    MoveNotInTable,
    change_build,
    order_transition,
    payment_change,
    payment_lock,
    payment_transition,
    refund_transition,
)
from payments.snapshots import payment_snapshot, refund_snapshot
from payments.states import EVENT_TYPES
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _moves(lifecycle):
    """Every (from, to, correction) of a table but creation."""
    for table, correction in ((lifecycle.moves, False), (lifecycle.corrections, True)):
        for source, targets in table.items():
            for target in targets:
                if source is not None:
                    yield source, target, correction


@pytest.fixture
def statements(monkeypatch):
    """The tables of each statement ``changes_write`` executed (its one builder of SQL)."""
    built: list[tuple] = []
    original = transitions._insert_statement

    def recording(groups):
        built.append(groups)
        return original(groups)

    monkeypatch.setattr(transitions, "_insert_statement", recording)
    return built


def _written(object_id: str, before: tuple[int, int]) -> tuple[list[TimelineEntry], list[Event]]:
    rows = list(TimelineEntry.objects.filter(object_id=object_id).order_by("version"))[before[0] :]
    events = list(Event.objects.filter(object_id=object_id).order_by("seq"))[before[1] :]
    return rows, events


def _counts(object_id: str) -> tuple[int, int]:
    return TimelineEntry.objects.filter(object_id=object_id).count(), Event.objects.filter(object_id=object_id).count()


def test_the_event_types_the_tables_announce_are_the_documented_lifecycle_types():
    announced = PAYMENT.event_types() | REFUND.event_types()
    documented = {t for t in EVENT_TYPES if t.split(".")[0] in ("payment", "refund")}
    assert announced == documented
    assert ORDER.event_types() == frozenset()  # orders' changes are told by their payments' events


@pytest.mark.parametrize(("source", "target", "correction"), list(_moves(PAYMENT)))
def test_each_payment_move_writes_one_timeline_row_and_one_event(alice, statements, source, target, correction):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status=source, version=4)
    before = _counts(payment.id)
    if source == target == "pending":
        with transaction.atomic():
            payment_change(
                payment=payment_lock(payment_id=payment.id),
                changes={"submitted_at": payment.created_at},
                detail="Submitted",
                source="worker",
            )
    elif source == target == "success":
        payment_capture(merchant=alice.merchant, payment_id=payment.id)
    else:
        moved = payment_transition(payment_id=payment.id, to_status=target, source="test", correction=correction)
        assert moved.changed and moved.from_status == source
    payment = Payment.objects.get(pk=payment.pk)
    (row,), (event,) = _written(payment.id, before)
    assert (row.object_type, row.from_status, row.to_status, row.version) == ("payment", source, target, 5)
    assert event.type == PAYMENT.event_for(source, target)
    assert (event.object_type, event.object_id, event.version, event.mode) == ("payment", payment.id, 5, payment.mode)
    assert event.data == {"payment": payment_snapshot(payment)}
    assert statements == [(TimelineEntry, Event)]


@pytest.mark.parametrize(("source", "target", "correction"), list(_moves(REFUND)))
def test_each_refund_move_writes_one_timeline_row_and_one_event(alice, statements, source, target, correction):
    refund = RefundFactory(payment__order=OrderFactory(merchant=alice.merchant), status=source)
    before = _counts(refund.id)
    moved = refund_transition(refund_id=refund.id, to_status=target, source="test")
    assert moved.changed and moved.from_status == source
    refund = Refund.objects.get(pk=refund.pk)
    (row,), (event,) = _written(refund.id, before)
    assert (row.object_type, row.payment_id, row.from_status, row.to_status) == (
        "refund",
        refund.payment_id,
        source,
        target,
    )
    assert row.version == event.version == refund.version == 2
    assert event.type == REFUND.event_for(source, target)
    assert event.data == {"refund": refund_snapshot(refund)}
    assert statements == [(TimelineEntry, Event)]


def test_creations_are_one_statement_with_their_timeline_row_and_event(alice, statements):
    response = alice.client.post("/api/v1/payments", {"amount": 700, "method": "upi", "vpa": "a@upi"}, format="json")
    payment = Payment.objects.get(pk=response.json()["id"])
    (row,), (event,) = _written(payment.id, (0, 0))
    assert (row.from_status, row.to_status, row.version, event.type, event.version) == (
        None, "pending", 1, "payment.created", 1,
    )  # fmt: skip
    assert event.data == {"payment": payment_snapshot(payment)}
    assert statements[-1] == (Order, Payment, TimelineEntry, Event)

    charged = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status="success")
    refund = refund_create(merchant=alice.merchant, payment_id=charged.id, amount=100)
    (row,), (event,) = _written(refund.id, (0, 0))
    assert (row.object_type, row.from_status, row.to_status, event.type) == (
        "refund",
        None,
        "pending",
        "refund.created",
    )
    assert event.data == {"refund": refund_snapshot(Refund.objects.get(pk=refund.pk))}
    assert statements[-1] == (Refund, TimelineEntry, Event)


def test_a_move_the_table_does_not_have_writes_nothing(alice):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), status="failed")
    before = _counts(payment.id)
    assert not payment_transition(payment_id=payment.id, to_status="success", source="provider_webhook").changed
    assert not payment_transition(payment_id=payment.id, to_status="pending", source="test", correction=True).changed
    assert _counts(payment.id) == before
    with pytest.raises(MoveNotInTable):
        change_build(lifecycle=PAYMENT, obj=payment, from_status="failed", event_type="payment.created")
    with pytest.raises(MoveNotInTable):
        change_build(lifecycle=PAYMENT, obj=payment, from_status="pending", event_type="payment.success")


def test_orders_move_by_their_table(alice):
    order = OrderFactory(merchant=alice.merchant)
    assert order.status == "created"
    assert not order_transition(order_id=order.id, to_status="created").changed
    assert order_transition(order_id=order.id, to_status="attempted").changed
    assert not order_transition(order_id=order.id, to_status="created").changed
    assert order_transition(order_id=order.id, to_status="paid").changed
    assert not order_transition(order_id=order.id, to_status="attempted").changed  # only a correction unpays
    assert order_transition(order_id=order.id, to_status="attempted", correction=True).changed
    assert Order.objects.get(pk=order.pk).status == "attempted"
    assert not Event.objects.filter(object_id=order.id).exists()


# Where timeline rows and lifecycle events may be written: the lifecycle module, and until
# it moves onto the builder the batch create statement (one unnest INSERT for 1,000 items).
WRITERS = {"payments/services/transitions.py", "payments/services/batches.py"}
WRITES = re.compile(
    r"(?<!class )TimelineEntry\(|TimelineEntry\.objects\.(create|bulk_create)|INSERT INTO (timeline_entries|events)\b"
)


def test_no_other_module_writes_timeline_rows_or_lifecycle_events():
    offenders = [
        str(path.relative_to(ROOT))
        for app in ("payments", "webhooks", "reconciliation", "realtime", "notifications", "common", "config")
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and str(path.relative_to(ROOT)) not in WRITERS
        and WRITES.search(path.read_text())
    ]
    assert offenders == []
