"""Reconciliation corrects every combination of "the provider settled it, we did not record
the money": failed, pending or cancelled, on an order that is unpaid or already paid by
another payment. Each ends charged (``success``, or ``duplicate`` with its automatic full
refund), audited, the discrepancy closed; a later run of the period finds nothing open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments.models import Event, Order, Payment, Refund, TimelineEntry
from reconciliation.models import Action, Discrepancy, ReconciliationPolicy
from reconciliation.services.actions import discrepancy_resolve
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv

pytestmark = pytest.mark.django_db


def _run(lines, *, period_end=PERIOD_END):
    return reconciliation_run(
        provider="simulator", period_start=PERIOD_START, period_end=period_end, content=settlement_csv(lines)
    )


def _second_attempt(keeper: Payment, *, status: str) -> Payment:
    """Another payment of ``keeper``'s (paid) order, stored in ``status``."""
    payment = Payment.objects.create(
        merchant=keeper.merchant,
        order=keeper.order,
        amount=keeper.amount,
        currency=keeper.currency,
        method="card",
        card_network="visa",
        card_last4="1111",
        status=status,
        provider="simulator",
        provider_reference=f"{keeper.provider_reference}_2",
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=PERIOD_START + timedelta(hours=2))
    payment.refresh_from_db()
    return payment


def _paid_order_with(alice, status: str) -> tuple[Payment, Payment]:
    keeper = payment_make(alice.merchant, status="success")
    Order.objects.filter(pk=keeper.order_id).update(status="paid")
    return keeper, _second_attempt(keeper, status=status)


@pytest.mark.parametrize("ours", ["failed", "cancelled", "pending"])
def test_settled_second_payment_of_a_paid_order_is_recorded_duplicate_and_refunded(alice, ours):
    keeper, second = _paid_order_with(alice, ours)
    outcome = _run([line_for(keeper), line_for(second)])
    assert outcome.counts == {"matched": 1, "provider_settled_ours_not": 1}

    second.refresh_from_db()
    assert (second.status, second.error_code) == ("duplicate", "duplicate_payment")
    keeper.refresh_from_db()
    assert keeper.status == "success"
    assert Order.objects.get(pk=keeper.order_id).status == "paid"
    (refund,) = Refund.objects.filter(payment=second)
    assert (refund.amount, refund.reason, refund.status) == (second.amount, "duplicate_payment", "pending")
    entry = TimelineEntry.objects.filter(payment=second, object_type="payment").latest("version")
    assert (entry.from_status, entry.to_status, entry.source) == (ours, "duplicate", "reconciliation")
    assert list(Event.objects.filter(object_id__in=[second.id, refund.id]).values_list("type", flat=True)) == [
        "payment.duplicate",
        "refund.created",
    ]
    (action,) = Action.objects.filter(payment_id=second.id)
    assert (action.kind, action.status, action.refund_id) == ("accept", "applied", refund.id)
    discrepancy = Discrepancy.objects.get(payment=second)
    assert (discrepancy.klass, discrepancy.status) == ("provider_settled_ours_not", "resolved")

    again = _run([line_for(keeper), line_for(second)], period_end=PERIOD_END + timedelta(seconds=1))
    assert again.counts == {"matched": 2}
    assert not Discrepancy.objects.filter(status="open").exists()
    assert Refund.objects.filter(payment=second).count() == 1


def test_refund_policy_on_a_paid_order_refunds_once(alice):
    ReconciliationPolicy.objects.create(merchant=alice.merchant, provider_settled_ours_not="refund")
    keeper, second = _paid_order_with(alice, "failed")
    _run([line_for(keeper), line_for(second)])
    second.refresh_from_db()
    assert second.status == "duplicate"
    (refund,) = Refund.objects.filter(payment=second)
    assert refund.reason == "duplicate_payment"
    assert list(Action.objects.filter(payment_id=second.id).order_by("id").values_list("kind", "status")) == [
        ("accept", "applied"),
        ("refund", "skipped"),
    ]
    assert Action.objects.get(kind="refund").refund_id == refund.id
    assert Discrepancy.objects.get(payment=second).status == "resolved"


def test_settled_cancelled_payment_of_an_unpaid_order_becomes_success(alice):
    cancelled = payment_make(alice.merchant, status="cancelled")
    _run([line_for(cancelled)])
    cancelled.refresh_from_db()
    assert cancelled.status == "success"
    assert Order.objects.get(pk=cancelled.order_id).status == "paid"
    entry = TimelineEntry.objects.filter(payment=cancelled).latest("version")
    assert (entry.from_status, entry.to_status) == ("cancelled", "success")
    assert Discrepancy.objects.get().status == "resolved"
    assert not Refund.objects.exists()


def test_staff_accept_of_a_settled_failed_payment_on_a_paid_order(alice, django_user_model):
    ReconciliationPolicy.objects.create(merchant=alice.merchant, provider_settled_ours_not="accept")
    keeper, second = _paid_order_with(alice, "failed")
    # A different settled amount keeps it for staff (no automatic action for mismatches).
    _run([line_for(keeper), line_for(second, amount=second.amount - 1)])
    discrepancy = Discrepancy.objects.get(payment=second)
    assert (discrepancy.klass, discrepancy.status) == ("amount_mismatch", "open")
    staff = django_user_model.objects.create_user(username="ops", password="x", is_staff=True)
    discrepancy_resolve(discrepancy_id=discrepancy.id, kind="refund", user=staff, note="charged twice")
    second.refresh_from_db()
    assert second.status == "duplicate"
    assert Refund.objects.get(payment=second).reason == "duplicate_payment"
    entry = TimelineEntry.objects.filter(payment=second, object_type="payment").latest("version")
    assert entry.source == "admin"
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.resolved_by) == ("resolved", "ops")


@pytest.mark.parametrize(("line_status", "expected"), [("success", "success"), ("failed", "failed"), (None, "pending")])
def test_reconciliation_decides_a_submit_whose_outcome_was_unknown(alice, line_status, expected):
    """The submit timed out: no provider reference, pending, not cancellable. The settlement
    file names our payment id, so it decides; absent from the file it stays pending."""
    payment = payment_make(alice.merchant, status="pending", reference=None)
    Payment.objects.filter(pk=payment.pk).update(submission_outcome_unknown_at=PERIOD_START + timedelta(hours=1))
    _run([line_for(payment, status=line_status)] if line_status else [])
    payment.refresh_from_db()
    assert payment.status == expected
    assert not Discrepancy.objects.filter(status="open").exists()
