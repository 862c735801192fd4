"""The stuck-payment sweeper's resubmission path, the seeded Beat jobs, the admin pages,
and the demo jobs-status endpoint."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from payments.models import Order, Payment, Refund, SimulatorTransaction
from payments.services.payments import payment_process
from payments.services.refunds import refund_process
from payments.services.stuck import payment_poll_provider, payments_stuck_sweep
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory, SuccessfulPaymentFactory
from tests.support.admin_urls import admin_change_url

pytestmark = pytest.mark.django_db


def test_lost_submission_is_resubmitted_after_the_grace_period(alice, simulator):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    assert payments_stuck_sweep().resubmitted == []  # too young: the queue may still deliver it
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    report = payments_stuck_sweep()
    assert report.resubmitted == [payment.id]
    payment.refresh_from_db()
    assert (payment.version, payment.submitted_at is not None) == (2, True)
    assert SimulatorTransaction.objects.filter(payment_id=payment.id).count() == 1


def test_resubmission_takes_the_oldest_first_when_capped(alice, simulator):
    now = timezone.now()
    payments = [PaymentFactory(order=OrderFactory(merchant=alice.merchant)) for _ in range(3)]
    for age, payment in zip((10, 30, 20), payments, strict=True):
        Payment.objects.filter(pk=payment.pk).update(created_at=now - timedelta(minutes=age))
    report = payments_stuck_sweep(limit=2)
    assert report.resubmitted == [payments[1].id, payments[2].id]


def test_lost_refund_submission_is_resubmitted(alice, simulator):
    refund = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant)))
    report = payments_stuck_sweep(resubmit_after=timedelta(0))
    assert refund.id in report.resubmitted
    refund.refresh_from_db()
    assert refund.provider_reference.startswith("sim_")
    refund_process(refund_id=refund.id)  # a duplicate task changes nothing
    assert SimulatorTransaction.objects.filter(refund_id=refund.id).count() == 1


def test_poll_settles_decided_and_leaves_unknown_pending(alice, simulator):
    decided = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="failure@upi")
    unknown = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="timeout@upi")
    for payment in (decided, unknown):
        payment_process(payment_id=payment.id)
    SimulatorTransaction.objects.update(decide_at=timezone.now() - timedelta(seconds=1))
    settled = payment_poll_provider(payment_ids=[decided.id, unknown.id])
    assert settled == {decided.id: "failed:applied"}
    decided.refresh_from_db()
    unknown.refresh_from_db()
    assert (decided.status, decided.error_code) == ("failed", "payment_declined")
    assert unknown.status == "pending"


def test_beat_jobs_are_seeded():
    tasks = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert tasks["payments.outbox_tasks.outbox_sweep"] == 10
    assert tasks["payments.tasks.payments_stuck_sweep"] == 30
    assert tasks["payments.tasks.idempotency_keys_purge"] == 3600


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    client.force_login(user)
    return client


def test_admin_pages_render(staff, alice, simulator):
    payment = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant))
    refund = RefundFactory(payment=payment)
    pages = [
        "/admin/payments/order/",
        admin_change_url(Order, payment.order_id),
        "/admin/payments/payment/",
        admin_change_url(Payment, payment.id),
        "/admin/payments/refund/",
        admin_change_url(Refund, refund.id),
        "/admin/payments/event/",
        "/admin/payments/providernotification/",
        "/admin/payments/simulatortransaction/",
        f"/admin/payments/simulatorconfig/{simulator.pk}/change/",
    ]
    for page in pages:
        assert staff.get(page).status_code == 200, page


def test_admin_payment_money_fields_are_read_only(staff, alice):
    payment = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant), amount=500)
    staff.post(admin_change_url(Payment, payment.id), {"amount": 1, "status": "failed"})
    payment.refresh_from_db()
    assert (payment.amount, payment.status) == (500, "success")


def test_admin_simulator_knobs_are_editable(staff, simulator):
    data = {
        "upi_success_rate": "0.5",
        "card_success_rate": "0.95",
        "min_delay_ms": "100",
        "max_delay_ms": "200",
        "extra_delay_ms": "0",
        "submit_unreachable_rate": "0",
        "submit_reply_lost_rate": "0.1",
        "drop_rate": "0.25",
        "duplicate_rate": "0",
        "reorder_rate": "0",
        "settle_failed_rate": "0",
        "amount_change_rate": "0",
    }
    response = staff.post(f"/admin/payments/simulatorconfig/{simulator.pk}/change/", data)
    assert response.status_code == 302
    simulator.refresh_from_db()
    assert (simulator.drop_rate, simulator.upi_success_rate, simulator.submit_reply_lost_rate) == (0.25, 0.5, 0.1)


def test_jobs_status_counts(alice, redis_client):
    PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant))
    PaymentFactory(order=OrderFactory(merchant=alice.merchant), status="failed")
    body = alice.client.get("/api/v1/test/jobs/status").json()
    assert (body["processing"], body["completed"], body["failed"]) == (1, 1, 1)
    assert body["worker_status"] == "stopped"
    assert isinstance(body["pending"], int)
    assert set(body["queues"]) >= {"default", "payments", "outbox"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_jobs_status_sees_queue_depth_and_worker(alice, redis_client, tmp_path):
    from config.celery import app
    from payments.tasks import payment_process_batch
    from tests.support.processes import celery_worker, wait_for

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("payments")
    for _ in range(3):
        payment_process_batch.delay([["pay_doesnotexist0000", None]])
    body = alice.client.get("/api/v1/test/jobs/status").json()
    assert body["queues"]["payments"] == 3
    assert body["pending"] >= 3
    with celery_worker(queues="payments", log_path=tmp_path / "w.log"):
        wait_for(
            lambda: alice.client.get("/api/v1/test/jobs/status").json()["queues"]["payments"] == 0,
            timeout=15,
            message="queue drained",
        )
        assert alice.client.get("/api/v1/test/jobs/status").json()["worker_status"] == "running"


def test_one_failing_submission_does_not_block_its_batch(alice, simulator, monkeypatch):
    from payments.providers.base import ProviderError
    from payments.providers.simulator.provider import SimulatorProvider
    from payments.tasks import payment_process_batch

    broken = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="broken@upi")
    fine = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    real_submit_batch = SimulatorProvider.submit_batch

    def flaky_submit_batch(self, *, payments):  # the batch task's one call for its batch
        answers = real_submit_batch(self, payments=[p for p in payments if p.vpa != "broken@upi"])
        return {**answers, **{p.id: ProviderError("acquirer unreachable") for p in payments if p.vpa == "broken@upi"}}

    monkeypatch.setattr(SimulatorProvider, "submit_batch", flaky_submit_batch)
    payment_process_batch([[broken.id, "c1"], [fine.id, "c2"]])
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.version, broken.submitted_at) == (1, None)  # left for the sweeper
    assert fine.version == 2
