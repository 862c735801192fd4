"""The batched hops of the pipeline: a ``payment_process_batch`` submits its payments with
one claim, one provider call and one record transaction (the same rules per payment as
``payment_process``), the simulator records a batch in one ledger INSERT and reports it in
one notification task and one signed POST, and the gateway stores and applies such a POST
in one transaction, isolating a notification that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.models import Event, Payment, ProviderNotification, SimulatorTransaction, TimelineEntry
from payments.providers import payment_providers, register_provider
from payments.providers.base import ProviderNotReached, ProviderOutcomeUnknown, SubmitResult
from payments.providers.simulator import provider as simulator_module
from payments.providers.simulator import signing
from payments.providers.simulator import tasks as simulator_tasks
from payments.providers.simulator.provider import SimulatorProvider, notification_payload
from payments.services import provider_events
from payments.services.payments import payment_process
from payments.services.submission import payment_submissions_process
from tests.payments.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the services' own transactions, and on_commit
URL = "/api/v1/provider-webhooks/simulator"


class BatchlessAcquirer:
    """An acquirer without a batch API: one ``submit`` per payment, failing as told."""

    name = "batchless_double"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failures: dict[str, Exception] = {}

    def submit(self, *, payment):
        self.calls.append(payment.id)
        if payment.id in self.failures:
            raise self.failures[payment.id]
        return SubmitResult(reference=f"acq_{payment.id}")


@pytest.fixture
def acquirer() -> Iterator[BatchlessAcquirer]:
    double = BatchlessAcquirer()
    register_provider(double.name, double)
    yield double
    payment_providers.unregister(double.name)


@pytest.fixture
def scheduled(monkeypatch) -> list[list[tuple[str, int]]]:
    """Each notification task the simulator scheduled (its (reference, delay) pairs)."""
    tasks: list[list[tuple[str, int]]] = []
    monkeypatch.setattr(simulator_module, "schedule_notifications", lambda due: tasks.append(list(due)))
    return tasks


def payments_of(alice, count: int, **fields) -> list[Payment]:
    return [PaymentFactory(order=OrderFactory(merchant=alice.merchant), **fields) for _ in range(count)]


def post(client, payloads):
    body = json.dumps({"notifications": payloads}).encode()
    return client.generic(
        "POST", URL, body, content_type="application/json", HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body)
    )


def test_a_batch_is_claimed_submitted_and_recorded_in_a_few_statements(alice, simulator, scheduled):
    payments = payments_of(alice, 5, vpa="success@upi")
    items = [[p.id, f"corr-{i}"] for i, p in enumerate(payments)]
    with CaptureQueriesContext(connection) as queries:
        recorded = payment_submissions_process(items=items)
    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    # claim; the simulator's config, ledger INSERT and read-back; lock, record, timeline, events:
    # the same 8 statements for 5 payments as for 25
    assert len(statements) <= 8, "\n".join(sql[:150] for sql in statements)
    assert sorted(p.id for p in recorded) == sorted(p.id for p in payments)
    ledger = dict(SimulatorTransaction.objects.values_list("payment_id", "reference"))
    for index, payment in enumerate(payments):
        payment.refresh_from_db()
        assert (payment.status, payment.version, payment.submission_claimed_at) == ("pending", 2, None)
        assert payment.provider_reference == ledger[payment.id]
        assert payment.submitted_at is not None
        event = Event.objects.get(object_id=payment.id)
        assert (event.type, event.version, event.correlation_id) == ("payment.pending", 2, f"corr-{index}")
        assert event.data["payment"]["version"] == 2
        assert list(
            TimelineEntry.objects.filter(object_id=payment.id).values_list("from_status", "to_status", "version")
        ) == [("pending", "pending", 2)]
    assert len(scheduled) == 1  # one notification task for the batch
    assert sorted(ref for ref, _ in scheduled[0]) == sorted(ledger.values())
    # a duplicate task of the same batch claims nothing and calls nobody
    assert payment_submissions_process(items=items) == []
    assert SimulatorTransaction.objects.count() == 5 and len(scheduled) == 1


def test_cancelled_final_and_live_claimed_payments_are_skipped(alice, simulator, scheduled):
    cancelled, final, claimed, fresh = payments_of(alice, 4)
    Payment.objects.filter(pk=cancelled.pk).update(status="cancelled")
    Payment.objects.filter(pk=final.pk).update(status="failed")
    Payment.objects.filter(pk=claimed.pk).update(submission_claimed_at=timezone.now())  # a live worker's
    recorded = payment_submissions_process(items=[[p.id, None] for p in (cancelled, final, claimed, fresh)])
    assert [p.id for p in recorded] == [fresh.id]
    assert list(SimulatorTransaction.objects.values_list("payment_id", flat=True)) == [fresh.id]


def test_an_expired_claim_is_taken_over_and_the_simulator_records_the_payment_once(alice, simulator, scheduled):
    payment = payments_of(alice, 1)[0]
    SimulatorProvider().submit_batch(payments=[payment])  # the dead worker's call reached the acquirer
    first = SimulatorTransaction.objects.get()
    stale = timezone.now() - timedelta(seconds=settings.PAYMENT_SUBMISSION_LEASE_SECONDS + 1)
    Payment.objects.filter(pk=payment.pk).update(submission_claimed_at=stale)
    [recorded] = payment_submissions_process(items=[[payment.id, None]])
    assert recorded.provider_reference == first.reference
    assert SimulatorTransaction.objects.count() == 1
    assert [[ref for ref, _ in task] for task in scheduled] == [[first.reference]]  # not notified twice


def test_per_payment_failures_clear_the_claim_and_unknown_outcomes_stay_pending(alice, acquirer):
    unreachable, unknown, ok = payments_of(alice, 3, provider=acquirer.name)
    acquirer.failures = {
        unreachable.id: ProviderNotReached("refused"),
        unknown.id: ProviderOutcomeUnknown("read timeout"),
    }
    recorded = payment_submissions_process(items=[[p.id, None] for p in (unreachable, unknown, ok)])
    assert [p.id for p in recorded] == [ok.id]
    assert sorted(acquirer.calls) == sorted([unreachable.id, unknown.id, ok.id])
    for payment in (unreachable, unknown, ok):
        payment.refresh_from_db()
    assert (unreachable.submission_claimed_at, unreachable.submission_outcome_unknown_at) == (None, None)
    assert unknown.submission_claimed_at is None and unknown.submission_outcome_unknown_at is not None
    assert (unknown.status, unknown.version, unknown.submitted_at) == ("pending", 1, None)
    assert (ok.version, ok.provider_reference) == (2, f"acq_{ok.id}")
    cancel_unreachable = alice.client.post(f"/api/v1/payments/{unreachable.id}/cancel")
    cancel_unknown = alice.client.post(f"/api/v1/payments/{unknown.id}/cancel")
    assert (cancel_unreachable.status_code, cancel_unknown.status_code) == (200, 409)


def test_a_notification_that_overtook_the_record_step_is_kept(alice, anon, simulator, monkeypatch):
    payment = payments_of(alice, 1, vpa="success@upi")[0]
    real = SimulatorProvider.submit_batch

    def submit_and_notify_at_once(self, *, payments):
        answers = real(self, payments=payments)
        row = SimulatorTransaction.objects.get(payment_id=payment.id)
        assert post(anon, [notification_payload(row, status="success", event_suffix="success")] * 2).status_code == 200
        return answers

    monkeypatch.setattr(SimulatorProvider, "submit_batch", submit_and_notify_at_once)
    monkeypatch.setattr(simulator_module, "schedule_notifications", lambda due: None)
    payment_submissions_process(items=[[payment.id, None]])
    payment.refresh_from_db()
    ledger = SimulatorTransaction.objects.get()
    assert (payment.status, payment.version, payment.provider_reference, payment.submission_claimed_at) == (
        "success",
        2,
        ledger.reference,
        None,
    )
    assert payment.submitted_at is not None
    assert list(Event.objects.filter(object_id=payment.id).values_list("type", "version")) == [("payment.success", 2)]


def test_a_batch_post_is_applied_in_one_transaction_deduplicated_and_never_backwards(alice, anon, simulator):
    payments = payments_of(alice, 3, vpa="success@upi")
    payment_submissions_process(items=[[p.id, None] for p in payments])
    rows = list(SimulatorTransaction.objects.order_by("payment_id"))
    finals = [notification_payload(row, status="success", event_suffix="success") for row in rows]
    stale = notification_payload(rows[0], status="pending", event_suffix="pending")
    response = post(anon, [*finals, finals[1], stale])
    assert response.status_code == 200
    assert response.json() == {"received": True, "notifications": 4, "duplicates": 1}
    for payment in payments:
        payment.refresh_from_db()
        assert (payment.status, payment.version) == ("success", 3)
        assert payment.order.status == "paid"
    assert sorted(ProviderNotification.objects.values_list("status", "result")) == [
        ("pending", "ignored"),
        *[("success", "applied")] * 3,
    ]
    stored = ProviderNotification.objects.filter(status="success").first()
    assert json.loads(stored.raw_body)["id"] == stored.event_id
    again = post(anon, finals)
    assert again.json() == {"received": True, "notifications": 0, "duplicates": 3}


def test_a_failing_notification_of_a_batch_is_not_stored_and_the_post_is_retried(alice, anon, simulator, monkeypatch):
    good, bad = payments_of(alice, 2, vpa="failure@upi")  # one at a time: failures are not set-based
    payment_submissions_process(items=[[good.id, None], [bad.id, None]])
    payloads = [
        notification_payload(SimulatorTransaction.objects.get(payment_id=p.id), status="failed", event_suffix="f")
        for p in (good, bad)
    ]
    real = provider_events._outcome_apply

    def failing_for_bad(**kwargs):
        if kwargs["object_id"] == bad.id:
            Payment.objects.filter(pk=bad.id).update(status="cancelled")  # undone with its savepoint
            raise RuntimeError("lock timeout")
        return real(**kwargs)

    monkeypatch.setattr(provider_events, "_outcome_apply", failing_for_bad)
    response = post(anon, payloads)
    assert (response.status_code, response.json()["error"]["reason"]) == (503, "notifications_not_applied")
    assert list(ProviderNotification.objects.values_list("object_id", flat=True)) == [good.id]
    assert Payment.objects.get(pk=bad.id).status == "pending"

    monkeypatch.setattr(provider_events, "_outcome_apply", real)
    retry = post(anon, payloads)  # the simulator's retry of the same POST
    assert (retry.status_code, retry.json()) == (200, {"received": True, "notifications": 1, "duplicates": 1})
    assert Payment.objects.get(pk=bad.id).status == "failed"


def test_the_notify_task_reports_a_batch_in_one_signed_post_with_its_faults(alice, anon, simulator, monkeypatch):
    simulator.duplicate_rate = 1.0
    simulator.reorder_rate = 1.0
    simulator.save()
    payments = payments_of(alice, 3, vpa="success@upi")
    monkeypatch.setattr(simulator_module, "schedule_notifications", lambda due: None)
    payment_submissions_process(items=[[p.id, None] for p in payments])
    bodies: list[bytes] = []

    def send(body: bytes) -> int:
        bodies.append(body)
        return anon.generic(
            "POST", URL, body, content_type="application/json", HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body)
        ).status_code

    monkeypatch.setattr(simulator_tasks, "_send", send)
    SimulatorTransaction.objects.update(decide_at=timezone.now())  # decided (TEST_PROCESSING_DELAY is 1 s here)
    references = list(SimulatorTransaction.objects.values_list("reference", flat=True))
    assert simulator_tasks.simulator_notify.run(references) == "sent"
    assert len(bodies) == 1 and len(json.loads(bodies[0])["notifications"]) == 9  # final, duplicate, stale each
    assert set(SimulatorTransaction.objects.values_list("notifications_sent", "notified_status")) == {(3, "success")}
    for payment in payments:
        payment.refresh_from_db()
        assert (payment.status, payment.version) == ("success", 3)


def test_the_notify_task_reschedules_what_is_not_decided_yet(alice, simulator, monkeypatch):
    payments = payments_of(alice, 2, vpa="success@upi")
    monkeypatch.setattr(simulator_module, "schedule_notifications", lambda due: None)
    payment_submissions_process(items=[[p.id, None] for p in payments])
    later = SimulatorTransaction.objects.get(payment_id=payments[1].id)
    SimulatorTransaction.objects.update(decide_at=timezone.now())
    SimulatorTransaction.objects.filter(pk=later.pk).update(decide_at=timezone.now() + timedelta(seconds=30))
    again: list[list[str]] = []
    monkeypatch.setattr(simulator_tasks, "schedule_notifications", lambda due: again.append([r for r, _ in due]))
    sent: list[dict] = []
    monkeypatch.setattr(simulator_tasks, "_send", lambda body: sent.append(json.loads(body)) or 200)
    simulator_tasks.simulator_notify.run(list(SimulatorTransaction.objects.values_list("reference", flat=True)))
    assert [body["object_id"] for body in sent] == [payments[0].id]  # a single one goes as itself
    assert again == [[later.reference]]


def test_the_single_payment_path_still_submits_alone(alice, simulator, monkeypatch):
    """``payment_process`` (the sweeper's path) keeps using ``submit``, not the batch."""
    payment = payments_of(alice, 1)[0]
    monkeypatch.setattr(simulator_module, "schedule_notification", lambda reference, delay_ms: None)
    assert payment_process(payment_id=payment.id).version == 2


def test_a_batch_charging_one_order_twice_records_one_success_and_refunds_the_other(alice, anon, simulator):
    order = OrderFactory(merchant=alice.merchant)
    first, second = (PaymentFactory(order=order, merchant=alice.merchant, vpa="success@upi") for _ in range(2))
    paid_before = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="success@upi")
    late = PaymentFactory(order=paid_before.order, merchant=alice.merchant, vpa="success@upi")
    plain = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="success@upi")
    everyone = (first, second, paid_before, late, plain)
    payment_submissions_process(items=[[p.id, None] for p in everyone])
    row_of = {row.payment_id: row for row in SimulatorTransaction.objects.all()}

    def success(payment):
        return notification_payload(row_of[payment.id], status="success", event_suffix="success")

    single = json.dumps(success(paid_before)).encode()
    assert (
        anon.generic(
            "POST", URL, single, content_type="application/json", HTTP_X_SIMULATOR_SIGNATURE=signing.sign(single)
        ).json()["result"]
        == "applied"
    )
    response = post(anon, [success(p) for p in (first, second, late, plain)])
    assert response.json() == {"received": True, "notifications": 4, "duplicates": 0}
    statuses = {p.id: Payment.objects.get(pk=p.id).status for p in everyone}
    assert sorted([statuses[first.id], statuses[second.id]]) == ["duplicate", "success"]
    assert (statuses[paid_before.id], statuses[late.id], statuses[plain.id]) == ("success", "duplicate", "success")
    duplicates = [pid for pid, status in statuses.items() if status == "duplicate"]
    assert sorted(
        Event.objects.filter(type="refund.created").values_list("data__refund__payment_id", flat=True)
    ) == sorted(duplicates)
    assert sorted(ProviderNotification.objects.values_list("result", flat=True)) == [
        "applied",
        "applied",
        "applied",
        "conflict",
        "conflict",
    ]
    for payment in (plain, paid_before):
        payment.refresh_from_db()
        assert (payment.version, payment.order.status) == (3, "paid")
        assert list(Event.objects.filter(object_id=payment.id).values_list("type", "version")) == [
            ("payment.pending", 2),
            ("payment.success", 3),
        ]
        assert list(
            TimelineEntry.objects.filter(object_id=payment.id).values_list("from_status", "to_status", "version")
        ) == [("pending", "pending", 2), ("pending", "success", 3)]
