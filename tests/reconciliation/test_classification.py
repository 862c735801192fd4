"""Every line and every payment of the period lands in exactly one class, in SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments.models import Event, Payment
from reconciliation.models import Discrepancy, Run, RunCount, SettlementLine
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv


def _run(data: bytes, **kwargs):
    return reconciliation_run(
        provider="simulator", period_start=PERIOD_START, period_end=PERIOD_END, content=data, **kwargs
    )


@pytest.fixture
def book(alice, bob):
    """One payment (or line) per class; returns {name: payment} and the file's lines."""
    m = alice.merchant
    p = {
        "matched": payment_make(m, status="success"),
        "both_failed_line": payment_make(m, status="failed"),
        "both_failed_absent": payment_make(m, status="failed"),
        "cancelled_absent": payment_make(m, status="cancelled"),
        "pending_unsettled": payment_make(m, status="pending"),
        "scenario1_failed": payment_make(m, status="failed"),
        "scenario1_pending": payment_make(bob.merchant, status="pending"),
        "scenario3_line_failed": payment_make(m, status="success"),
        "scenario3_absent": payment_make(m, status="success"),
        "provider_failed_ours_pending": payment_make(m, status="pending"),
        "amount": payment_make(m, status="success", amount=10000),
        "currency": payment_make(m, status="pending", amount=10000),
        "duplicated": payment_make(m, status="success"),
        # outside the period: only counted when a line names it
        "before_period_named": payment_make(m, status="success", created_at=PERIOD_START - timedelta(minutes=1)),
        "before_period_silent": payment_make(m, status="success", created_at=PERIOD_START - timedelta(minutes=1)),
        "other_provider": payment_make(m, status="success", provider="other"),
    }
    lines = [
        line_for(p["matched"]),
        line_for(p["both_failed_line"], status="failed"),
        line_for(p["scenario1_failed"]),
        line_for(p["scenario1_pending"]),
        line_for(p["scenario3_line_failed"], status="failed"),
        line_for(p["provider_failed_ours_pending"], status="failed"),
        line_for(p["amount"], amount=9999),
        line_for(p["currency"], currency="USD"),
        line_for(p["duplicated"]),
        line_for(p["duplicated"]),
        line_for(p["before_period_named"]),
        {**line_for(p["matched"]), "payment_id": "pay_NeverHeardOf0001", "provider_reference": "sim_unknown"},
        {**line_for(p["matched"]), "payment_id": "", "provider_reference": "sim_noid"},
        line_for(p["other_provider"]),
    ]
    return p, lines


EXPECTED = {
    "matched": 3,  # matched, before_period_named, the first line of duplicated
    "both_failed": 3,
    "pending_unsettled": 1,
    "provider_settled_ours_not": 2,
    "ours_success_provider_not": 2,
    "provider_failed_ours_pending": 1,
    "amount_mismatch": 1,
    "currency_mismatch": 1,
    "unknown_to_us": 3,  # unknown payment id, no payment id, another provider's payment
    "duplicate_line": 1,
}


@pytest.mark.django_db
def test_every_line_and_payment_lands_in_exactly_one_class(book, alice, bob):
    p, lines = book
    outcome = _run(settlement_csv(lines))
    assert outcome.counts == EXPECTED
    # 14 lines + the period's payments no line names (both_failed_absent, cancelled_absent,
    # pending_unsettled, scenario3_absent) = 18 items; 13 payments of the period all counted.
    assert sum(outcome.counts.values()) == len(lines) + 4
    assert SettlementLine.objects.filter(file=outcome.run.file).count() == 14
    by_subject = {d.payment_id: d.klass for d in Discrepancy.objects.filter(payment__isnull=False)}
    assert by_subject == {
        p["scenario1_failed"].id: "provider_settled_ours_not",
        p["scenario1_pending"].id: "provider_settled_ours_not",
        p["scenario3_line_failed"].id: "ours_success_provider_not",
        p["scenario3_absent"].id: "ours_success_provider_not",
        p["provider_failed_ours_pending"].id: "provider_failed_ours_pending",
        p["amount"].id: "amount_mismatch",
        p["currency"].id: "currency_mismatch",
        p["duplicated"].id: "duplicate_line",
    }
    assert Discrepancy.objects.filter(klass="unknown_to_us", merchant__isnull=True).count() == 3
    mismatch = Discrepancy.objects.get(klass="amount_mismatch")
    assert (mismatch.our_amount, mismatch.provider_amount, mismatch.proposed_action) == (10000, 9999, "none")
    # Per-merchant counts: bob has exactly one item.
    assert list(RunCount.objects.filter(merchant=bob.merchant).values_list("klass", "count")) == [
        ("provider_settled_ours_not", 1)
    ]
    assert sum(RunCount.objects.filter(merchant__isnull=True).values_list("count", flat=True)) == 3


@pytest.mark.django_db
def test_discrepancy_events_are_recorded_for_merchants(book, alice, bob):
    _p, lines = book
    _run(settlement_csv(lines))
    events = Event.objects.filter(type="reconciliation.discrepancy")
    # One event per discrepancy with a merchant (the 3 unknown lines belong to no one:
    # staff only), then one more for each the default policy resolved on its own
    # (2 accepted, 1 marked failed).
    assert events.filter(version=1).count() == Discrepancy.objects.filter(merchant__isnull=False).count() == 8
    resolved = events.filter(version=2)
    assert sorted(e.data["discrepancy"]["class"] for e in resolved) == [
        "provider_failed_ours_pending",
        "provider_settled_ours_not",
        "provider_settled_ours_not",
    ]
    assert {e.data["discrepancy"]["status"] for e in resolved} == {"resolved"}
    assert set(events.values_list("merchant_id", flat=True)) == {alice.merchant.id, bob.merchant.id}
    completed = Event.objects.filter(type="reconciliation.completed")
    assert {e.merchant_id: e.data["reconciliation_run"]["counts"] for e in completed}[bob.merchant.id] == {
        "provider_settled_ours_not": 1
    }


@pytest.mark.django_db
def test_same_file_twice_is_a_no_op(book):
    _p, lines = book
    data = settlement_csv(lines)
    first = _run(data)
    events = Event.objects.count()
    second = _run(data)
    assert second.already_imported and second.run.id == first.run.id
    assert Run.objects.count() == 1
    assert SettlementLine.objects.count() == len(lines)
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_dry_run_reports_counts_and_stores_nothing(book):
    p, lines = book
    outcome = _run(settlement_csv(lines), dry_run=True)
    assert outcome.counts == EXPECTED
    assert outcome.run is None
    assert Run.objects.count() == 0 and SettlementLine.objects.count() == 0 and Discrepancy.objects.count() == 0
    p["scenario1_pending"].refresh_from_db()
    assert p["scenario1_pending"].status == "pending"


@pytest.mark.django_db
def test_identical_bytes_for_another_period_are_a_new_run(alice):
    """Every quiet period's file is the bare header: it must still be compared."""
    flagged = payment_make(alice.merchant, status="success", created_at=PERIOD_END + timedelta(hours=1))
    header_only = settlement_csv([])
    first = _run(header_only)
    assert first.counts == {}
    second = reconciliation_run(
        provider="simulator",
        period_start=PERIOD_END,
        period_end=PERIOD_END + timedelta(days=1),
        content=header_only,
    )
    assert not second.already_imported
    assert second.counts == {"ours_success_provider_not": 1}
    assert Discrepancy.objects.get().payment_id == flagged.id


@pytest.mark.django_db
def test_an_open_discrepancy_closes_when_a_later_run_agrees(alice):
    late = payment_make(alice.merchant, status="success")
    _run(settlement_csv([]))  # e.g. an hourly file the settlement did not make yet
    flagged = Discrepancy.objects.get(payment=late)
    assert (flagged.klass, flagged.status) == ("ours_success_provider_not", "open")
    daily = reconciliation_run(
        provider="simulator",
        period_start=PERIOD_START - timedelta(hours=1),
        period_end=PERIOD_END,
        content=settlement_csv([line_for(late)]),
    )
    assert daily.counts == {"matched": 1}
    flagged.refresh_from_db()
    assert (flagged.status, flagged.version, flagged.resolved_by) == ("resolved", 2, "reconciliation")
    assert flagged.note == f"agrees with the provider in run {daily.run.id}"
    (event,) = Event.objects.filter(object_id=flagged.id, version=2)
    assert event.data["discrepancy"]["status"] == "resolved"


@pytest.mark.django_db
def test_discrepancy_events_are_written_in_batches(book, monkeypatch):
    monkeypatch.setattr("reconciliation.events.BATCH", 3)
    _p, lines = book
    _run(settlement_csv(lines))
    created = Event.objects.filter(type="reconciliation.discrepancy", version=1)
    assert created.count() == Discrepancy.objects.filter(merchant__isnull=False).count() == 8
    assert len(set(created.values_list("object_id", flat=True))) == 8


@pytest.mark.django_db
def test_discrepancy_events_are_in_their_payments_world(book, alice, bob):
    """A live payment's discrepancy is a live event (seen by live keys and endpoints);
    the test world's stay test events."""
    Payment.objects.filter(merchant=bob.merchant).update(mode="live")
    _p, lines = book
    _run(settlement_csv(lines))
    events = Event.objects.filter(type="reconciliation.discrepancy")
    assert set(events.filter(merchant=bob.merchant).values_list("mode", flat=True)) == {"live"}
    assert set(events.filter(merchant=alice.merchant).values_list("mode", flat=True)) == {"test"}
    assert events.filter(merchant=bob.merchant, version=2).exists()  # the resolution, too
