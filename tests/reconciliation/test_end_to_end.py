"""The issue's end-to-end: a faulty provider, a batch of real payments, one reconciliation.

Real processes: a Celery worker (payments, simulator notifications, outbox, webhooks),
daphne receiving the simulator's signed notifications, and a loopback receiver for our
outbound webhooks. The simulator drops 20 % of its notifications, settles 5 % of what it
reported failed and changes 1 % of settled amounts; the stuck-payment job does not run
(no Beat, and the worker's threshold is a day). The provider's own ledger is the judge.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from payments.models import Event, Payment, Refund, SimulatorConfig, TimelineEntry
from payments.providers.simulator.models import SimulatorTransaction
from payments.services.payments import payment_create
from reconciliation.models import Action, Discrepancy, ReconciliationPolicy, Run
from reconciliation.services.runs import reconciliation_run
from reconciliation.tasks import reconciliation_period
from tests.support.processes import celery_worker, daphne_server, wait_for
from tests.webhooks.receiver import running_receiver
from webhooks.services.endpoints import endpoint_create

BATCH = 600
TIMEOUTS = 4  # the provider never answers these: pending, absent from the file


def _broker_idle() -> bool:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    lists = [k for k in client.keys("*") if client.type(k) == b"list"]
    return all(client.llen(k) == 0 for k in lists) and client.hlen("unacked") == 0


def _expected_class(*, before: str, ledger: SimulatorTransaction | None, payment: Payment) -> str:
    if ledger is None or ledger.settled_status is None:
        return {"success": "ours_success_provider_not", "pending": "pending_unsettled"}.get(before, "both_failed")
    if ledger.settled_status == "success":
        if ledger.settled_amount != payment.amount:
            return "amount_mismatch"
        return "matched" if before == "success" else "provider_settled_ours_not"
    return {"success": "ours_success_provider_not", "pending": "provider_failed_ours_pending"}.get(
        before, "both_failed"
    )


@pytest.mark.worker
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_faulty_provider_batch_then_reconciliation(alice, bob, redis_client, tmp_path):
    SimulatorConfig.objects.update_or_create(
        pk=1,
        defaults={
            "drop_rate": 0.20,
            "settle_failed_rate": 0.05,
            "amount_change_rate": 0.01,
            "duplicate_rate": 0.0,
            "reorder_rate": 0.0,
            "extra_delay_ms": 0,
        },
    )
    ReconciliationPolicy.objects.create(merchant=bob.merchant, provider_settled_ours_not="refund")
    with running_receiver() as receiver, daphne_server() as base_url:
        for tenant in (alice, bob):
            endpoint_create(merchant=tenant.merchant, url=receiver.url, actor="test")
        worker_env = {
            "SIMULATOR_CALLBACK_BASE_URL": base_url,
            "TEST_PROCESSING_DELAY": "0",
            "PAYMENT_STUCK_AFTER_SECONDS": "86400",
            "PAYMENT_RESUBMIT_AFTER_SECONDS": "86400",
        }
        with celery_worker(env=worker_env, concurrency=3, log_path=tmp_path / "worker.log"):
            start = timezone.now() - timedelta(seconds=1)
            for i in range(BATCH + TIMEOUTS):
                vpa = "timeout@upi" if i >= BATCH else ("failure@upi" if i % 5 < 2 else "success@upi")
                payment_create(
                    merchant=(alice, bob)[i % 2].merchant, amount=10_000 + i, currency="INR", method="upi", vpa=vpa
                )
            wait_for(
                lambda: not Payment.objects.filter(submitted_at__isnull=True).exists()
                and SimulatorTransaction.objects.filter(kind="payment").count() == BATCH + TIMEOUTS
                and _broker_idle(),
                timeout=180,
                interval=0.5,
                message="every payment submitted and every notification sent or dropped",
            )
            ledger = {t.payment_id: t for t in SimulatorTransaction.objects.filter(kind="payment")}
            before = dict(Payment.objects.values_list("id", "status"))
            dropped = [pid for pid, t in ledger.items() if t.outcome != "timeout" and t.notified_status is None]
            assert 0.10 * BATCH < len(dropped) < 0.30 * BATCH
            assert all(before[pid] == "pending" for pid in dropped)
            settled_anyway = [
                pid for pid, t in ledger.items() if t.outcome == "failed" and t.settled_status == "success"
            ]
            assert settled_anyway, "5 % of ~240 declines: the simulator settled none"
            # seq, not count: sequences survive the flushes between transactional tests
            events_before = Event.objects.aggregate(last=Max("seq"))["last"] or 0

            end = timezone.now()
            # The run itself goes through the queue, as Beat sends it, to the real worker.
            reconciliation_period.delay("simulator", start.isoformat(), end.isoformat())
            wait_for(
                lambda: Run.objects.filter(status="completed").exists(),
                timeout=120,
                interval=0.5,
                message="the reconciliation task to complete on the worker",
            )
            run = Run.objects.get()
            assert (run.period_start, run.period_end, run.file.source) == (start, end, "beat")

            # --- every payment is where the provider's file says, or queued with its class ---
            payments = {p.id: p for p in Payment.objects.all()}
            expected = {
                pid: _expected_class(before=before[pid], ledger=ledger.get(pid), payment=p)
                for pid, p in payments.items()
            }
            counts: dict[str, int] = {}
            for klass in expected.values():
                counts[klass] = counts.get(klass, 0) + 1
            assert run.counts == counts
            assert sum(run.counts.values()) == BATCH + TIMEOUTS
            for pid, payment in payments.items():
                klass, settled = expected[pid], ledger[pid].settled_status
                discrepancies = list(Discrepancy.objects.filter(payment_id=pid))
                assert len(discrepancies) <= 1
                if klass in ("matched", "both_failed", "pending_unsettled"):
                    assert not discrepancies
                    assert payment.status == before[pid]
                elif klass == "amount_mismatch":
                    (d,) = discrepancies
                    assert (d.klass, d.status, d.provider_amount) == (klass, "open", ledger[pid].settled_amount)
                    assert payment.status == before[pid]
                else:
                    (d,) = discrepancies
                    assert (d.klass, d.status) == (klass, "resolved"), (pid, d.note)
                    assert payment.status == settled
                    (entry,) = TimelineEntry.objects.filter(
                        payment_id=pid, source="reconciliation", object_type="payment"
                    )
                    assert (entry.from_status, entry.to_status) == (before[pid], settled)
                    (event,) = Event.objects.filter(object_id=pid, version=entry.version)
                    assert event.type == f"payment.{settled}"
            # --- refunds exactly where bob's policy says ---
            scenario_1 = {pid for pid, k in expected.items() if k == "provider_settled_ours_not"}
            refunded = dict(Refund.objects.values_list("payment_id", "amount"))
            assert refunded == {
                pid: payments[pid].amount for pid in scenario_1 if payments[pid].merchant_id == bob.merchant.id
            }
            assert Action.objects.filter(status="failed").count() == 0
            # --- a webhook for every change reconciliation made ---
            changed = Event.objects.filter(seq__gt=events_before).exclude(type="reconciliation.completed")
            assert changed.filter(type__startswith="payment.").count() == len(
                [k for k in expected.values() if k in ("provider_settled_ours_not", "provider_failed_ours_pending")]
            )
            wanted = set(changed.values_list("id", flat=True)) | set(
                Event.objects.filter(type="reconciliation.completed").values_list("id", flat=True)
            )

            def delivered() -> bool:
                with receiver.lock:
                    got = {r.webhook_id for r in receiver.received}
                return wanted <= got

            wait_for(delivered, timeout=120, interval=0.5, message="webhooks for every reconciliation change")
            bodies = {}
            with receiver.lock:
                for r in receiver.received:
                    bodies[r.webhook_id] = json.loads(r.body)
            assert {bodies[e]["event"] for e in wanted} >= {"reconciliation.discrepancy", "reconciliation.completed"}

            # --- a second run of the same period changes nothing ---
            # (first let the worker finish the refunds the first run created)
            wait_for(
                lambda: not Refund.objects.filter(provider_reference__isnull=True).exists() and _broker_idle(),
                timeout=60,
                interval=0.5,
                message="refunds handed to the provider",
            )
            state = sorted(Payment.objects.values_list("id", "status", "version"))
            counted = (Action.objects.count(), Refund.objects.count(), Discrepancy.objects.count())
            payment_events = Event.objects.filter(type__regex=r"^(payment|refund)\.").count()
            again = reconciliation_run(provider="simulator", period_start=start, period_end=end)
            assert again.already_imported and again.run.id == run.id
            overlapping = reconciliation_run(
                provider="simulator", period_start=start - timedelta(minutes=1), period_end=end
            )
            assert not overlapping.already_imported
            assert overlapping.actions_applied == 0 and overlapping.new_discrepancies == 0
            assert sorted(Payment.objects.values_list("id", "status", "version")) == state
            assert (Action.objects.count(), Refund.objects.count(), Discrepancy.objects.count()) == counted
            assert Event.objects.filter(type__regex=r"^(payment|refund)\.").count() == payment_events
            assert Run.objects.count() == 2
