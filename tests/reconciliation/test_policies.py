"""Merchant policies: every automatic action goes through the payments services, is
audited, and is never applied twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Event, Refund, TimelineEntry
from payments.providers.simulator.models import SimulatorTransaction
from reconciliation.models import Action, Discrepancy, ReconciliationPolicy, Run
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv


def _run(lines, *, period_end=PERIOD_END):
    return reconciliation_run(
        provider="simulator", period_start=PERIOD_START, period_end=period_end, content=settlement_csv(lines)
    )


def _ledger(payment, outcome: str) -> None:
    """The simulator's own record of the payment (what get_status answers from)."""
    SimulatorTransaction.objects.create(
        reference=payment.provider_reference,
        kind="payment",
        payment_id=payment.id,
        order_id=payment.order_id,
        merchant_id=payment.merchant_id,
        amount=payment.amount,
        currency=payment.currency,
        outcome=outcome,
        decide_at=timezone.now() - timedelta(minutes=1),
    )


@pytest.mark.django_db
def test_accept_moves_failed_to_success_with_timeline_and_event(alice):
    failed = payment_make(alice.merchant, status="failed")
    _run([line_for(failed)])
    failed.refresh_from_db()
    assert failed.status == "success" and failed.error_code is None
    entry = TimelineEntry.objects.filter(payment=failed).latest("version")
    assert (entry.from_status, entry.to_status, entry.source) == ("failed", "success", "reconciliation")
    (event,) = Event.objects.filter(object_id=failed.id, type="payment.success")
    assert event.data["payment"]["status"] == "success"
    assert failed.order.__class__.objects.get(pk=failed.order_id).status == "paid"
    (action,) = Action.objects.all()
    assert (action.kind, action.status, action.actor, action.payment_id) == ("accept", "applied", "auto", failed.id)
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.status, discrepancy.resolved_by) == ("resolved", "reconciliation policy")
    assert Run.objects.get().actions_applied == 1


@pytest.mark.django_db
def test_refund_policy_accepts_then_refunds_in_full(alice):
    ReconciliationPolicy.objects.create(merchant=alice.merchant, provider_settled_ours_not="refund")
    pending = payment_make(alice.merchant, status="pending", amount=12345)
    _run([line_for(pending)])
    pending.refresh_from_db()
    assert pending.status == "success"
    (refund,) = Refund.objects.filter(payment=pending)
    assert (refund.amount, refund.status) == (12345, "pending")
    assert refund.reason == f"reconciliation {Discrepancy.objects.get().id}"
    assert list(Action.objects.order_by("id").values_list("kind", "status")) == [
        ("accept", "applied"),
        ("refund", "applied"),
    ]
    assert Action.objects.get(kind="refund").refund_id == refund.id
    types = list(Event.objects.filter(object_id__in=[pending.id, refund.id]).values_list("type", flat=True))
    assert types == ["payment.success", "refund.created"]
    assert TimelineEntry.objects.get(object_id=refund.id).source == "reconciliation"


@pytest.mark.django_db
def test_flag_leaves_scenario_3_for_review(alice):
    flagged = payment_make(alice.merchant, status="success")
    _run([line_for(flagged, status="failed")])
    flagged.refresh_from_db()
    assert flagged.status == "success"
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.klass, discrepancy.status, discrepancy.proposed_action) == (
        "ours_success_provider_not",
        "open",
        "mark_failed",
    )
    assert Action.objects.count() == 0


@pytest.mark.django_db
def test_confirm_and_fail_asks_the_provider_again(alice):
    ReconciliationPolicy.objects.create(merchant=alice.merchant, ours_success_provider_not="confirm_and_fail")
    confirmed = payment_make(alice.merchant, status="success")
    disputed = payment_make(alice.merchant, status="success")
    _ledger(confirmed, "failed")
    _ledger(disputed, "success")
    _run([line_for(confirmed, status="failed")])  # disputed: absent from the file
    confirmed.refresh_from_db()
    disputed.refresh_from_db()
    assert confirmed.status == "failed" and confirmed.error_code == "RECONCILIATION"
    entry = TimelineEntry.objects.filter(payment=confirmed).latest("version")
    assert (entry.from_status, entry.to_status, entry.source) == ("success", "failed", "reconciliation")
    assert disputed.status == "success"
    still_open = Discrepancy.objects.get(payment=disputed)
    assert still_open.status == "open"
    assert still_open.note == "the provider still reports success; needs review"
    assert sorted(Action.objects.values_list("payment_id", "kind", "status", "detail")) == sorted(
        [
            (confirmed.id, "confirm", "applied", "failed"),
            (confirmed.id, "mark_failed", "applied", ""),
            (disputed.id, "confirm", "applied", "success"),
        ]
    )


@pytest.mark.django_db
def test_provider_failed_ours_pending_is_marked_failed(alice):
    pending = payment_make(alice.merchant, status="pending")
    _run([line_for(pending, status="failed")])
    pending.refresh_from_db()
    assert pending.status == "failed"
    assert Event.objects.filter(object_id=pending.id, type="payment.failed").count() == 1


@pytest.mark.django_db
def test_an_action_that_cannot_apply_is_audited_and_stays_in_the_queue(alice):
    # A duplicate (charged, refunded automatically) the provider now reports failed: marking
    # it failed would hide a refund that is already under way, so the state machine refuses.
    ReconciliationPolicy.objects.create(merchant=alice.merchant, ours_success_provider_not="confirm_and_fail")
    duplicate = payment_make(alice.merchant, status="duplicate")
    _ledger(duplicate, "failed")
    _run([line_for(duplicate, status="failed")])
    duplicate.refresh_from_db()
    assert duplicate.status == "duplicate"
    action = Action.objects.get(kind="mark_failed")
    assert action.status == "failed"
    assert action.detail == "payment is duplicate; cannot mark_failed it"
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.status == "open"
    assert discrepancy.note == "mark_failed failed: payment is duplicate; cannot mark_failed it"


@pytest.mark.django_db
def test_a_second_run_of_the_period_changes_nothing(alice, bob):
    ReconciliationPolicy.objects.create(merchant=bob.merchant, provider_settled_ours_not="refund")
    a = payment_make(alice.merchant, status="failed")
    b = payment_make(bob.merchant, status="pending")
    flagged = payment_make(alice.merchant, status="success")
    lines = [line_for(a), line_for(b), line_for(flagged, status="failed")]
    _run(lines)
    snapshot = {
        "versions": sorted((p.id, p.version, p.status) for p in type(a).objects.all()),
        "actions": Action.objects.count(),
        "refunds": Refund.objects.count(),
        "discrepancies": sorted(Discrepancy.objects.values_list("id", "status", "version")),
        "payment_events": Event.objects.filter(type__regex=r"^(payment|refund)\.").count(),
        "discrepancy_events": Event.objects.filter(type="reconciliation.discrepancy").count(),
    }
    # The same lines in another order (other bytes, so not the import no-op), twice.
    for attempt in range(2):
        again = _run(list(reversed(lines)) + [line_for(a)] * attempt)
        assert not again.already_imported
        assert again.new_discrepancies == (1 if attempt else 0)  # the extra line is a duplicate
        assert again.actions_applied == 0
    assert sorted((p.id, p.version, p.status) for p in type(a).objects.all()) == snapshot["versions"]
    assert Action.objects.count() == snapshot["actions"]
    assert Refund.objects.count() == snapshot["refunds"]
    assert Event.objects.filter(type__regex=r"^(payment|refund)\.").count() == snapshot["payment_events"]
    # Known discrepancies are linked to the new runs, not recorded again nor re-announced;
    # only the duplicate line of the third file is new.
    assert set(snapshot["discrepancies"]) < set(Discrepancy.objects.values_list("id", "status", "version"))
    assert Discrepancy.objects.count() == len(snapshot["discrepancies"]) + 1
    assert Event.objects.filter(type="reconciliation.discrepancy").count() == snapshot["discrepancy_events"] + 1
    assert Run.objects.count() == 3
