"""Concurrent imports of the same file: the unique file key lets exactly one proceed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from payments.models import Event
from reconciliation.models import Action, Discrepancy, Run, SettlementLine
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_concurrently_runs_once(alice):
    payments = [payment_make(alice.merchant, status="pending") for _ in range(20)]
    data = settlement_csv([line_for(p) for p in payments])
    barrier = threading.Barrier(4)
    outcomes, errors = [], []

    def attempt() -> None:
        try:
            barrier.wait()
            outcomes.append(
                reconciliation_run(provider="simulator", period_start=PERIOD_START, period_end=PERIOD_END, content=data)
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(outcomes) == 4
    assert sum(1 for o in outcomes if not o.already_imported) == 1
    assert len({o.run.id for o in outcomes}) == 1
    assert Run.objects.count() == 1
    assert SettlementLine.objects.count() == 20
    assert Discrepancy.objects.count() == 20
    assert Action.objects.filter(kind="accept", status="applied").count() == 20
    assert set(Discrepancy.objects.values_list("status", "version")) == {("resolved", 2)}
    # found + resolved, once each, however many runs raced
    assert Event.objects.filter(type="reconciliation.discrepancy").count() == 40
    assert Event.objects.filter(type="reconciliation.completed").count() == 1
    for payment in payments:
        payment.refresh_from_db()
        assert payment.status == "success" and payment.version == 2
