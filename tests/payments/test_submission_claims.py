"""The worker's submission step: claim (a lease, committed on its own) → provider call with
no transaction open and no row lock held → record under the row lock. Cancel against a
live claim, a failing provider, a worker that dies mid-call (expired lease), and a provider
notification that overtakes the record step; for payments and refunds.

``AcquirerDouble`` stands in for an external acquirer reached over the network (registered
in the provider registry for the test); the built-in simulator is used where its own
idempotency and notifications are what is being checked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from payments.models import Event, Payment, ProviderNotification, Refund, SimulatorTransaction, TimelineEntry
from payments.providers import payment_providers, register_provider
from payments.providers.base import ProviderError, ProviderNotReached, ProviderOutcomeUnknown, SubmitResult
from payments.providers.simulator import outcomes, signing
from payments.providers.simulator import provider as simulator_module
from payments.providers.simulator.provider import SimulatorProvider, notification_body
from payments.services.payments import payment_process
from payments.services.refunds import refund_process
from payments.services.stuck import payments_stuck_sweep
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory, SuccessfulPaymentFactory
from tests.support.admin_urls import admin_change_url

pytestmark = pytest.mark.django_db(transaction=True)  # no test-wide transaction: the service's own count
NOW = timedelta(0)


class WorkerCrashed(BaseException):
    """The worker process going away mid-call (not an ``Exception``: nothing handles it)."""


class AcquirerDouble:
    """An external acquirer: idempotent per payment/refund id (a repeated call returns the
    first reference). ``during_call`` runs while the call is "on the wire"."""

    name = "acquirer_double"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.during_call: Callable[[str, str], None] | None = None
        self.failures_left = 0
        # What a failing call raises: by default one that proves the request never arrived.
        self.failure: BaseException = ProviderNotReached("acquirer unreachable")

    def _call(self, kind: str, object_id: str) -> SubmitResult:
        self.calls.append((kind, object_id))
        if self.during_call is not None:
            self.during_call(kind, object_id)
        if self.failures_left:
            self.failures_left -= 1
            raise self.failure
        return SubmitResult(reference=f"acq_{object_id}")

    def submit(self, *, payment: Payment) -> SubmitResult:
        return self._call("payment", payment.id)

    def refund(self, *, refund: Refund, payment: Payment) -> SubmitResult:
        return self._call("refund", refund.id)

    def get_status(self, *, reference: str):
        raise NotImplementedError

    def fetch_settlement(self, *, period_start, period_end) -> bytes:
        raise NotImplementedError

    def verify_webhook(self, headers, body):
        raise NotImplementedError


@pytest.fixture
def acquirer() -> Iterator[AcquirerDouble]:
    double = AcquirerDouble()
    register_provider(double.name, double)
    yield double
    payment_providers.unregister(double.name)


@pytest.fixture
def simulator_notifications(monkeypatch) -> list[str]:
    """References whose notification the simulator scheduled; the test delivers them itself
    (when it wants them to arrive) instead of leaving messages in the broker."""
    scheduled: list[str] = []
    monkeypatch.setattr(
        simulator_module, "schedule_notification", lambda reference, delay_ms: scheduled.append(reference)
    )
    return scheduled


@contextmanager
def other_session():
    """A second PostgreSQL session, as another process would see the database."""
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    ) as conn:
        yield conn


def lock_nowait(table: str, object_id: str) -> dict:
    """Lock the row from another session with NOWAIT (raises ``LockNotAvailable`` if anybody
    holds it) and return it as that session sees it, i.e. as committed."""
    with other_session() as conn:
        cursor = conn.execute(f"SELECT * FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [object_id])
        columns = [c.name for c in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
        conn.rollback()
    return row


def expire_claim(model, object_id: str) -> None:
    stale = timezone.now() - timedelta(seconds=settings.PAYMENT_SUBMISSION_LEASE_SECONDS + 1)
    assert model.objects.filter(pk=object_id, submission_claimed_at__isnull=False).update(submission_claimed_at=stale)


def events_of(object_id: str) -> list[tuple[str, int]]:
    return list(Event.objects.filter(object_id=object_id).order_by("seq").values_list("type", "version"))


def timeline_of(object_id: str) -> list[tuple[str | None, str, int]]:
    return list(
        TimelineEntry.objects.filter(object_id=object_id)
        .order_by("version")
        .values_list("from_status", "to_status", "version")
    )


def deliver(client, row: SimulatorTransaction, status: str):
    """The simulator's signed notification, exactly as its task would send it."""
    body = notification_body(row, status=status, event_suffix=status)
    return client.generic(
        "POST",
        "/api/v1/provider-webhooks/simulator",
        body,
        content_type="application/json",
        HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body),
    )


# ---------------------------------------------------------------------------- payments


def test_the_probe_sees_a_held_row_lock(alice):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    with transaction.atomic():
        Payment.objects.select_for_update().get(pk=payment.pk)
        with pytest.raises(psycopg.errors.LockNotAvailable):
            lock_nowait("payments", payment.id)
    assert lock_nowait("payments", payment.id)["id"] == payment.id


def test_provider_submit_runs_with_no_transaction_and_no_row_lock(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    seen: dict = {}

    def on_the_wire(kind: str, object_id: str) -> None:
        seen["in_atomic_block"] = connection.in_atomic_block
        row = lock_nowait("payments", object_id)  # raises if the worker held the row lock
        seen["committed"] = (row["status"], row["submitted_at"], row["submission_claimed_at"] is not None)

    acquirer.during_call = on_the_wire
    result = payment_process(payment_id=payment.id)

    assert seen == {"in_atomic_block": False, "committed": ("pending", None, True)}  # the claim committed first
    assert acquirer.calls == [("payment", payment.id)]
    payment.refresh_from_db()
    assert result.version == payment.version == 2
    assert (payment.status, payment.provider_reference, payment.submission_claimed_at) == (
        "pending",
        f"acq_{payment.id}",
        None,
    )
    assert payment.submitted_at is not None
    assert events_of(payment.id) == [("payment.pending", 2)]
    assert timeline_of(payment.id) == [("pending", "pending", 2)]


def test_cancel_during_a_live_claim_is_409_and_nothing_is_submitted_twice(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    during: dict = {}

    def on_the_wire(kind: str, object_id: str) -> None:
        during["cancel"] = alice.client.post(f"/api/v1/payments/{object_id}/cancel")
        during["duplicate_task"] = payment_process(payment_id=object_id)
        during["sweep"] = payments_stuck_sweep(resubmit_after=NOW).resubmitted

    acquirer.during_call = on_the_wire
    payment_process(payment_id=payment.id)

    cancel = during["cancel"]
    assert cancel.status_code == 409
    assert (cancel.json()["error"]["code"], cancel.json()["error"]["reason"]) == (
        "CONFLICT_ERROR",
        "payment_already_submitted",
    )
    assert (during["duplicate_task"], during["sweep"]) == (None, [])
    assert acquirer.calls == [("payment", payment.id)]
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.submission_claimed_at) == ("pending", 2, None)
    assert events_of(payment.id) == [("payment.pending", 2)]
    assert payment_process(payment_id=payment.id) is None  # submitted: a late duplicate does nothing
    assert acquirer.calls == [("payment", payment.id)]


def test_cancel_before_the_claim_means_the_process_step_submits_nothing(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    assert alice.client.post(f"/api/v1/payments/{payment.id}/cancel").status_code == 200
    assert payment_process(payment_id=payment.id) is None
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []
    assert acquirer.calls == []
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.submitted_at, payment.submission_claimed_at) == (
        "cancelled",
        2,
        None,
        None,
    )
    assert events_of(payment.id) == [("payment.cancelled", 2)]


def test_a_failed_submit_clears_the_claim_and_the_sweeper_resubmits(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    acquirer.failures_left = 1
    with pytest.raises(ProviderError):
        payment_process(payment_id=payment.id)
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.submitted_at, payment.submission_claimed_at) == (
        "pending",
        1,
        None,
        None,
    )
    assert events_of(payment.id) == []

    report = payments_stuck_sweep(resubmit_after=NOW)
    assert report.resubmitted == [payment.id]
    assert acquirer.calls == [("payment", payment.id)] * 2
    payment.refresh_from_db()
    assert (payment.version, payment.provider_reference, payment.submission_claimed_at) == (
        2,
        f"acq_{payment.id}",
        None,
    )
    assert events_of(payment.id) == [("payment.pending", 2)]


def test_a_payment_whose_submit_never_reached_the_provider_can_still_be_cancelled(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    acquirer.failures_left = 1
    with pytest.raises(ProviderError):
        payment_process(payment_id=payment.id)
    response = alice.client.post(f"/api/v1/payments/{payment.id}/cancel")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []
    assert acquirer.calls == [("payment", payment.id)]


def test_one_unreachable_submission_does_not_stop_the_sweep(alice, acquirer):
    now = timezone.now()
    first = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    second = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    Payment.objects.filter(pk=first.pk).update(created_at=now - timedelta(minutes=2))
    Payment.objects.filter(pk=second.pk).update(created_at=now - timedelta(minutes=1))
    acquirer.failures_left = 1  # the oldest, taken first, fails
    report = payments_stuck_sweep()
    assert report.resubmitted == [second.id]
    assert acquirer.calls == [("payment", first.id), ("payment", second.id)]
    first.refresh_from_db()
    assert (first.submitted_at, first.submission_claimed_at) == (None, None)  # free for the next pass
    assert payments_stuck_sweep().resubmitted == [first.id]


def test_a_worker_dying_mid_call_is_resubmitted_after_its_lease_with_the_same_payment_id(
    alice, simulator, simulator_notifications, monkeypatch
):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    real_submit = SimulatorProvider.submit
    submitted: list[str] = []

    def submit_then_die(self, *, payment):
        submitted.append(payment.id)
        real_submit(self, payment=payment)  # the acquirer has it ...
        raise WorkerCrashed  # ... and the worker is gone before it records anything

    monkeypatch.setattr(SimulatorProvider, "submit", submit_then_die)
    with pytest.raises(WorkerCrashed):
        payment_process(payment_id=payment.id)
    monkeypatch.setattr(
        SimulatorProvider,
        "submit",
        lambda self, *, payment: submitted.append(payment.id) or real_submit(self, payment=payment),
    )
    payment.refresh_from_db()
    assert (payment.submitted_at, payment.version) == (None, 1)
    assert payment.submission_claimed_at is not None  # the dead worker's claim stays until its lease runs out

    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []  # live claim: that worker may be mid-call
    assert payment_process(payment_id=payment.id) is None
    cancel = alice.client.post(f"/api/v1/payments/{payment.id}/cancel")
    assert (cancel.status_code, cancel.json()["error"]["reason"]) == (409, "payment_already_submitted")

    expire_claim(Payment, payment.id)
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == [payment.id]
    assert submitted == [payment.id, payment.id]  # the acquirer saw the same payment id twice
    ledger = SimulatorTransaction.objects.get(kind="payment", payment_id=payment.id)  # and recorded it once
    payment.refresh_from_db()
    assert (payment.provider_reference, payment.version, payment.submission_claimed_at) == (ledger.reference, 2, None)
    assert events_of(payment.id) == [("payment.pending", 2)]
    assert simulator_notifications == [ledger.reference]  # one outcome notification scheduled, not two


def test_a_notification_applied_before_the_record_step_is_kept(
    alice, anon, simulator, simulator_notifications, monkeypatch
):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="success@upi")
    real_submit = SimulatorProvider.submit
    delivered: list[int] = []

    def submit_and_notify_at_once(self, *, payment):
        result = real_submit(self, payment=payment)
        row = SimulatorTransaction.objects.get(reference=result.reference)
        delivered.append(deliver(anon, row, "success").status_code)  # overtakes the record step
        return result

    monkeypatch.setattr(SimulatorProvider, "submit", submit_and_notify_at_once)
    payment_process(payment_id=payment.id)

    assert delivered == [200]
    ledger = SimulatorTransaction.objects.get(payment_id=payment.id)
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.provider_reference, payment.submission_claimed_at) == (
        "success",
        2,
        ledger.reference,
        None,
    )
    assert payment.submitted_at is not None
    assert payment.order.status == "paid"
    assert events_of(payment.id) == [("payment.success", 2)]  # no payment.pending after it
    assert timeline_of(payment.id) == [("pending", "success", 2)]
    assert list(ProviderNotification.objects.values_list("status", "result")) == [("success", "applied")]
    # and the simulator's own (later) notification of the same event changes nothing
    assert json.loads(deliver(anon, ledger, "success").content)["duplicate"] is True
    assert events_of(payment.id) == [("payment.success", 2)]


def test_simulator_submit_is_idempotent_when_two_submits_overlap(
    alice, simulator, simulator_notifications, monkeypatch
):
    """A worker whose lease ran out and the one that took over may both be past the
    simulator's lookup: its unique constraint decides, both get the first reference."""
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    provider = SimulatorProvider()
    real_config = outcomes.simulator_config
    other: list[str] = []

    def config_while_the_other_submit_lands():  # runs between the lookup and the insert
        if not other:
            other.append("running")
            other.append(provider.submit(payment=payment).reference)
        return real_config()

    monkeypatch.setattr(outcomes, "simulator_config", config_while_the_other_submit_lands)
    reference = provider.submit(payment=payment).reference
    ledger = SimulatorTransaction.objects.get(kind="payment", payment_id=payment.id)
    assert reference == other[1] == ledger.reference
    assert simulator_notifications == [ledger.reference]


# ----------------------------------------------------------------------------- refunds


def test_provider_refund_runs_with_no_transaction_and_no_row_lock(alice, acquirer):
    refund = RefundFactory(
        payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    )
    seen: dict = {}

    def on_the_wire(kind: str, object_id: str) -> None:
        seen["in_atomic_block"] = connection.in_atomic_block
        row = lock_nowait("refunds", object_id)
        lock_nowait("payments", row["payment_id"])
        seen["committed"] = (row["provider_reference"], row["submission_claimed_at"] is not None)
        seen["duplicate_task"] = refund_process(refund_id=object_id)
        seen["sweep"] = payments_stuck_sweep(resubmit_after=NOW).resubmitted

    acquirer.during_call = on_the_wire
    result = refund_process(refund_id=refund.id)

    assert seen == {"in_atomic_block": False, "committed": (None, True), "duplicate_task": None, "sweep": []}
    assert acquirer.calls == [("refund", refund.id)]
    refund.refresh_from_db()
    assert (result.provider_reference, refund.status, refund.provider_reference, refund.submission_claimed_at) == (
        f"acq_{refund.id}",
        "pending",
        f"acq_{refund.id}",
        None,
    )
    assert refund_process(refund_id=refund.id) is None
    assert acquirer.calls == [("refund", refund.id)]


def test_a_failed_refund_call_clears_the_claim_and_the_sweeper_resubmits(alice, acquirer):
    refund = RefundFactory(
        payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    )
    acquirer.failures_left = 1
    with pytest.raises(ProviderError):
        refund_process(refund_id=refund.id)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference, refund.submission_claimed_at) == ("pending", None, None)

    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == [refund.id]
    assert acquirer.calls == [("refund", refund.id)] * 2
    refund.refresh_from_db()
    assert (refund.provider_reference, refund.submission_claimed_at) == (f"acq_{refund.id}", None)


def test_a_worker_dying_mid_refund_is_resubmitted_after_its_lease_with_the_same_refund_id(
    alice, simulator, simulator_notifications, monkeypatch
):
    refund = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant)))
    real_refund = SimulatorProvider.refund
    sent: list[str] = []

    def refund_then_die(self, *, refund, payment):
        sent.append(refund.id)
        real_refund(self, refund=refund, payment=payment)
        raise WorkerCrashed

    monkeypatch.setattr(SimulatorProvider, "refund", refund_then_die)
    with pytest.raises(WorkerCrashed):
        refund_process(refund_id=refund.id)
    monkeypatch.setattr(
        SimulatorProvider,
        "refund",
        lambda self, *, refund, payment: sent.append(refund.id) or real_refund(self, refund=refund, payment=payment),
    )
    refund.refresh_from_db()
    assert (refund.provider_reference, refund.submission_claimed_at is not None) == (None, True)
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []
    assert refund_process(refund_id=refund.id) is None

    expire_claim(Refund, refund.id)
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == [refund.id]
    assert sent == [refund.id, refund.id]
    ledger = SimulatorTransaction.objects.get(kind="refund", refund_id=refund.id)
    refund.refresh_from_db()
    assert (refund.provider_reference, refund.submission_claimed_at) == (ledger.reference, None)
    assert simulator_notifications == [ledger.reference]


def test_a_refund_notification_applied_before_the_record_step_is_kept(
    alice, anon, simulator, simulator_notifications, monkeypatch
):
    refund = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant)))
    real_refund = SimulatorProvider.refund
    delivered: list[int] = []

    def refund_and_notify_at_once(self, *, refund, payment):
        result = real_refund(self, refund=refund, payment=payment)
        row = SimulatorTransaction.objects.get(reference=result.reference)
        delivered.append(deliver(anon, row, "processed").status_code)
        return result

    monkeypatch.setattr(SimulatorProvider, "refund", refund_and_notify_at_once)
    refund_process(refund_id=refund.id)

    assert delivered == [200]
    ledger = SimulatorTransaction.objects.get(kind="refund", refund_id=refund.id)
    refund.refresh_from_db()
    assert (refund.status, refund.version, refund.provider_reference, refund.submission_claimed_at) == (
        "processed",
        2,
        ledger.reference,
        None,
    )
    assert events_of(refund.id) == [("refund.processed", 2)]
    assert timeline_of(refund.id) == [("pending", "processed", 2)]


# ------------------------------------------------------------------------------- admin


def test_admin_shows_the_claim_read_only(client, alice, acquirer):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    client.force_login(user)
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), submission_claimed_at=timezone.now())
    refund = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant)))
    for page in (admin_change_url(Payment, payment.id), admin_change_url(Refund, refund.id)):
        html = client.get(page).content.decode()
        assert "Submission claimed at" in html, page
        assert 'name="submission_claimed_at"' not in html, page


# ------------------------------------------------------------- ambiguous provider outcome


def _cancel(alice, payment_id: str):
    response = alice.client.post(f"/api/v1/payments/{payment_id}/cancel")
    return response.status_code, response.json().get("error", {}).get("reason") or response.json()["status"]


@pytest.mark.parametrize(
    "failure",
    [ProviderOutcomeUnknown("read timed out"), ProviderError("502 from the acquirer's proxy"), RuntimeError("bug")],
    ids=["read-timeout", "provider-error", "anything-else"],
)
def test_an_ambiguous_submit_leaves_the_payment_pending_and_not_cancellable(alice, acquirer, failure):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    acquirer.failures_left, acquirer.failure = 1, failure
    with pytest.raises(type(failure)):
        payment_process(payment_id=payment.id)
    payment.refresh_from_db()
    assert (payment.status, payment.version, payment.submitted_at, payment.submission_claimed_at) == (
        "pending",
        1,
        None,
        None,
    )
    assert payment.submission_outcome_unknown_at is not None
    assert _cancel(alice, payment.id) == (409, "payment_already_submitted")
    assert events_of(payment.id) == []


def test_a_later_submit_that_never_arrived_does_not_release_an_ambiguous_one(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    acquirer.failures_left, acquirer.failure = 1, ProviderOutcomeUnknown("read timed out")
    with pytest.raises(ProviderOutcomeUnknown):
        payment_process(payment_id=payment.id)
    marked = Payment.objects.get(pk=payment.pk).submission_outcome_unknown_at
    acquirer.failures_left, acquirer.failure = 1, ProviderNotReached("connection refused")
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []  # the retry failed
    assert acquirer.calls == [("payment", payment.id)] * 2
    assert Payment.objects.get(pk=payment.pk).submission_outcome_unknown_at == marked  # kept, not moved
    assert _cancel(alice, payment.id) == (409, "payment_already_submitted")

    # The provider answers the next retry (idempotent per payment id): submitted, still pending.
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == [payment.id]
    payment.refresh_from_db()
    assert (payment.status, payment.provider_reference) == ("pending", f"acq_{payment.id}")
    assert events_of(payment.id) == [("payment.pending", 2)]
    assert _cancel(alice, payment.id) == (409, "payment_already_submitted")


def test_only_an_error_proving_the_request_never_arrived_releases_the_payment(alice, acquirer):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), provider=acquirer.name)
    acquirer.failures_left = 1  # ProviderNotReached
    with pytest.raises(ProviderNotReached):
        payment_process(payment_id=payment.id)
    payment.refresh_from_db()
    assert (payment.submission_claimed_at, payment.submission_outcome_unknown_at) == (None, None)
    assert _cancel(alice, payment.id) == (200, "cancelled")


def test_the_provider_notification_decides_an_ambiguous_submit(alice, simulator, simulator_notifications, client):
    """The simulator took the payment but its answer was lost: no reference here, yet its
    notification (which names our payment id) settles the payment."""
    simulator.submit_reply_lost_rate = 1.0
    simulator.save()
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    with pytest.raises(ProviderOutcomeUnknown):
        payment_process(payment_id=payment.id)
    ledger = SimulatorTransaction.objects.get(kind="payment", payment_id=payment.id)
    assert simulator_notifications == [ledger.reference]  # the acquirer did act on it
    assert _cancel(alice, payment.id) == (409, "payment_already_submitted")

    body = notification_body(ledger, status="success", event_suffix="success")
    response = client.generic(
        "POST",
        "/api/v1/provider-webhooks/simulator",
        body,
        content_type="application/json",
        HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body),
    )
    assert response.json()["result"] == "applied"
    payment.refresh_from_db()
    assert payment.status == "success"

    # Decided: nothing is submitted again, and the acquirer has it once.
    simulator.submit_reply_lost_rate = 0.0
    simulator.save()
    assert payments_stuck_sweep(resubmit_after=NOW).resubmitted == []
    assert SimulatorTransaction.objects.filter(kind="payment", payment_id=payment.id).count() == 1


def test_the_simulator_refusing_the_connection_records_nothing(alice, simulator, simulator_notifications):
    simulator.submit_unreachable_rate = 1.0
    simulator.save()
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    with pytest.raises(ProviderNotReached):
        payment_process(payment_id=payment.id)
    assert not SimulatorTransaction.objects.filter(payment_id=payment.id).exists()
    assert simulator_notifications == []
    assert _cancel(alice, payment.id) == (200, "cancelled")
