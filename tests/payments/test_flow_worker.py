"""The whole flow with a real Celery worker and a real daphne receiving the simulator's
signed callbacks: order → payment (201 pending at once) → success in about a second,
timeline and events; capture; refund → processed; faults (dropped, duplicated and
reordered notifications); no card number anywhere."""

from __future__ import annotations

import logging
import time

import pytest

from payments.models import Event, Payment, ProviderNotification, Refund, SimulatorTransaction, TimelineEntry
from tests.payments.conftest import VISA_DECLINED, VISA_OK, card
from tests.support.card_scan import assert_no_card_data
from tests.support.processes import celery_worker, daphne_server, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.live]


def running(base: str, tmp_path, **env):
    return celery_worker(
        env={"SIMULATOR_CALLBACK_BASE_URL": base, **env},
        queues="default,payments,outbox",
        log_path=tmp_path / "worker.log",
    )


def status_of(payment_id: str) -> str:
    return Payment.objects.get(pk=payment_id).status


def assert_timeline_monotonic(payment_id: str) -> list[tuple[str | None, str, int]]:
    rows = list(
        TimelineEntry.objects.filter(object_id=payment_id)
        .order_by("version")
        .values_list("from_status", "to_status", "version")
    )
    versions = [v for _, _, v in rows]
    assert versions == list(range(1, len(rows) + 1))
    final_seen = False
    for _, to_status, _ in rows:
        assert not (final_seen and to_status == "pending"), rows  # never back to pending
        final_seen = final_seen or to_status != "pending"
    return rows


def test_upi_and_card_reach_success_with_timeline_events_capture_and_refund(alice, simulator, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with daphne_server() as base, running(base, tmp_path):
        order = alice.client.post("/api/v1/orders", {"amount": 50000}, format="json").json()
        started = time.monotonic()
        upi = alice.client.post(
            "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": "success@upi"}, format="json"
        )
        assert upi.status_code == 201
        assert upi.json()["status"] == "pending"
        card_payment = alice.client.post(
            "/api/v1/payments", {"amount": 20000, "method": "card", "card": card(VISA_OK, cvv="987")}, format="json"
        )
        assert card_payment.status_code == 201
        ids = [upi.json()["id"], card_payment.json()["id"]]
        wait_for(lambda: all(status_of(i) == "success" for i in ids), timeout=15, message="both payments succeed")
        elapsed = time.monotonic() - started
        assert elapsed < 4, f"success took {elapsed:.2f}s with TEST_PROCESSING_DELAY=1000ms"

        for payment_id in ids:
            status = alice.client.get(f"/api/v1/payments/{payment_id}/status").json()
            assert status["status"] == "success"
            assert status["version"] == 3
            assert [(e["status"], e["version"]) for e in status["events"]] == [
                ("pending", 1),
                ("pending", 2),
                ("success", 3),
            ]
            assert list(Event.objects.filter(object_id=payment_id).order_by("seq").values_list("type", "version")) == [
                ("payment.created", 1),
                ("payment.pending", 2),
                ("payment.success", 3),
            ]
            assert_timeline_monotonic(payment_id)
        assert Payment.objects.get(pk=ids[1]).order.status == "paid"

        # a long-poll wakes up on the capture
        captured = alice.client.post(f"/api/v1/payments/{ids[0]}/capture")
        assert captured.status_code == 200
        assert captured.json()["captured"] is True
        polled = alice.client.get(f"/api/v1/payments/{ids[0]}/status?wait=5&after_version=3").json()
        assert polled["version"] == 4

        refund = alice.client.post(f"/api/v1/payments/{ids[0]}/refunds", {"amount": 10000}, format="json")
        assert refund.status_code == 201
        refund_id = refund.json()["id"]
        wait_for(lambda: Refund.objects.get(pk=refund_id).status == "processed", timeout=15, message="refund processed")
        body = alice.client.get(f"/api/v1/refunds/{refund_id}").json()
        assert body["status"] == "processed"
        assert body["processed_at"] is not None
        assert list(Event.objects.filter(object_id=refund_id).order_by("seq").values_list("type", flat=True)) == [
            "refund.created",
            "refund.processed",
        ]

    # Card data never stored, logged or queued.
    assert_no_card_data(
        numbers=("4111111111111111", "4111 1111 1111 1111"),
        cvvs=("987",),
        logs=[(tmp_path / "worker.log").read_text(errors="replace"), caplog.text],
    )


def test_declined_card_and_failure_vpa_fail_with_reason(alice, simulator, tmp_path):
    with daphne_server() as base, running(base, tmp_path):
        declined = alice.client.post(
            "/api/v1/payments", {"amount": 500, "method": "card", "card": card(VISA_DECLINED)}, format="json"
        ).json()["id"]
        upi = alice.client.post(
            "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "failure@upi"}, format="json"
        ).json()["id"]
        wait_for(lambda: status_of(declined) == status_of(upi) == "failed", timeout=15, message="both fail")
    body = alice.client.get(f"/api/v1/payments/{declined}").json()
    assert (body["error_code"], body["version"]) == ("card_declined", 3)
    assert Payment.objects.get(pk=upi).error_code == "payment_declined"


def test_duplicated_and_reordered_notifications(alice, simulator, tmp_path):
    simulator.duplicate_rate = 1.0
    simulator.reorder_rate = 1.0
    simulator.save()
    with daphne_server() as base, running(base, tmp_path, TEST_PROCESSING_DELAY="200"):
        ok = [
            alice.client.post(
                "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "success@upi"}, format="json"
            ).json()["id"]
            for _ in range(3)
        ]
        bad = alice.client.post(
            "/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "failure@upi"}, format="json"
        ).json()["id"]
        # every payment gets: final, the same final again, then a stale 'pending'
        wait_for(
            lambda: SimulatorTransaction.objects.filter(notifications_sent=3).count() == 4,
            timeout=20,
            message="all notifications sent",
        )
    for payment_id in ok:
        assert status_of(payment_id) == "success"
        rows = assert_timeline_monotonic(payment_id)
        assert [to for _, to, _ in rows] == ["pending", "pending", "success"]
        results = sorted(ProviderNotification.objects.filter(object_id=payment_id).values_list("status", "result"))
        assert results == [("pending", "ignored"), ("success", "applied")]  # the duplicate was deduplicated
    assert status_of(bad) == "failed"
    assert [to for _, to, _ in assert_timeline_monotonic(bad)] == ["pending", "pending", "failed"]


def test_dropped_notifications_are_settled_by_the_stuck_payment_job(alice, simulator, tmp_path):
    simulator.drop_rate = 1.0
    simulator.save()
    from payments.tasks import payments_stuck_sweep_task

    with daphne_server() as base, running(base, tmp_path, TEST_PROCESSING_DELAY="200", PAYMENT_STUCK_AFTER_SECONDS="0"):
        vpas = ["success@upi", "failure@upi", "someone@bank", "timeout@upi"]
        ids = [
            alice.client.post("/api/v1/payments", {"amount": 500, "method": "upi", "vpa": v}, format="json").json()[
                "id"
            ]
            for v in vpas
        ]
        wait_for(
            lambda: SimulatorTransaction.objects.filter(notifications_dropped=1).count() == 3,
            timeout=15,
            message="the simulator decided and dropped its three notifications",
        )
        assert all(status_of(i) == "pending" for i in ids)  # nobody told us anything
        assert Payment.objects.filter(pk__in=ids, version=2).count() == 4  # all at the provider
        assert ProviderNotification.objects.count() == 0
        payments_stuck_sweep_task.delay()  # the Beat job, through the broker and the worker
        wait_for(
            lambda: [status_of(i) for i in ids[:3]] == ["success", "failed", "success"],
            timeout=20,
            message="stuck payments settled by polling",
        )
    assert status_of(ids[3]) == "pending"  # the provider cannot tell: never failed
    for payment_id in ids[:3]:
        assert TimelineEntry.objects.filter(object_id=payment_id).order_by("version").last().source == "status_poll"
