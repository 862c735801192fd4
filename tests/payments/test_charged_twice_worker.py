"""Several attempts on one order, all charged by the provider, with real processes: a Celery
worker (payments, simulator notifications, outbox, webhooks), daphne receiving the hosted
checkout's requests and the simulator's signed callbacks, and a loopback webhook receiver.

Afterwards exactly one payment keeps the money; every other one is ``duplicate`` with a
processed full refund (reason ``duplicate_payment``) in the simulator's own ledger; the
merchant's events and webhook deliveries say so; and a reconciliation run over the period
leaves nothing open for the order."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Event, Order, Payment, Refund, SimulatorTransaction
from reconciliation.models import Discrepancy
from reconciliation.services.runs import reconciliation_run
from tests.payments.conftest import VISA_OK, card
from tests.support.processes import celery_worker, daphne_server, wait_for
from tests.webhooks.receiver import running_receiver
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.live]


def _checkout_attempt(base: str, order_id: str, method: str) -> tuple[int, dict]:
    """What one browser tab of the hosted checkout sends."""
    body = {"order_id": order_id, "method": method}
    body.update({"vpa": "success@upi"} if method == "upi" else {"card": card(VISA_OK)})
    request = urllib.request.Request(
        f"{base}/api/v1/payments/public",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _concurrent_attempts(base: str, order_id: str, methods: list[str]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(methods))
    answers: list[tuple[int, dict] | None] = [None] * len(methods)

    def tab(index: int, method: str) -> None:
        barrier.wait(timeout=10)
        answers[index] = _checkout_attempt(base, order_id, method)

    threads = [threading.Thread(target=tab, args=(i, m)) for i, m in enumerate(methods)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return [a for a in answers if a is not None]


def _settled(order_id: str, attempts: int) -> bool:
    payments = Payment.objects.filter(order_id=order_id)
    if payments.exclude(status__in=["success", "duplicate"]).exists():
        return False
    refunds = Refund.objects.filter(payment__order_id=order_id, status="processed")
    return refunds.count() == attempts - 1


@pytest.mark.parametrize(
    "methods",
    [["upi", "card"], ["card", "upi", "card", "upi", "upi"]],
    ids=["2-attempts-upi-card", "5-attempts-mixed"],
)
def test_concurrent_attempts_on_one_order_keep_the_money_once(alice, simulator, tmp_path, methods):
    started = timezone.now()
    with (
        running_receiver() as receiver,
        daphne_server() as base,
        celery_worker(
            env={"SIMULATOR_CALLBACK_BASE_URL": base, "TEST_PROCESSING_DELAY": "1000"},
            log_path=tmp_path / "worker.log",
        ),
    ):
        endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["payment.*", "refund.*"], actor="test")
        order = alice.client.post("/api/v1/orders", {"amount": 50000}, format="json").json()
        answers = _concurrent_attempts(base, order["id"], methods)
        assert [status for status, _ in answers] == [201] * len(methods), answers
        ids = [body["id"] for _, body in answers]

        wait_for(lambda: _settled(order["id"], len(methods)), timeout=60, interval=0.2, message="charges settled")
        duplicates = list(Payment.objects.filter(order_id=order["id"], status="duplicate"))
        wanted_events = set(
            Event.objects.filter(
                object_id__in=[*ids, *Refund.objects.filter(payment__in=duplicates).values_list("id", flat=True)]
            )
            .exclude(type__in=["payment.created", "payment.pending"])
            .values_list("seq", flat=True)
        )

        def delivered() -> bool:
            done = WebhookDelivery.objects.filter(event_id__in=wanted_events, status="success").count()
            return done == len(wanted_events)

        wait_for(delivered, timeout=60, interval=0.2, message="webhooks for every charge and refund")
        with receiver.lock:
            bodies = [json.loads(r.body) for r in receiver.received]

    # Exactly one payment keeps the money; the provider charged every attempt.
    (keeper,) = Payment.objects.filter(order_id=order["id"], status="success")
    assert len(duplicates) == len(methods) - 1
    assert Order.objects.get(pk=order["id"]).status == "paid"
    charged = SimulatorTransaction.objects.filter(kind="payment", order_id=order["id"])
    assert sorted(charged.values_list("payment_id", "outcome")) == sorted((i, "success") for i in ids)
    assert sorted({p.method for p in [keeper, *duplicates]}) == sorted(set(methods))

    for duplicate in duplicates:
        assert (duplicate.error_code, duplicate.amount) == ("duplicate_payment", 50000)
        assert keeper.id in duplicate.error_description
        (refund,) = Refund.objects.filter(payment=duplicate)
        assert (refund.status, refund.amount, refund.reason) == ("processed", 50000, "duplicate_payment")
        ledger = SimulatorTransaction.objects.get(kind="refund", refund_id=refund.id)
        assert (ledger.payment_id, ledger.amount, ledger.outcome, ledger.notified_status) == (
            duplicate.id,
            50000,
            "processed",
            "processed",
        )
        assert refund.provider_reference == ledger.reference
        # What the merchant is told: charged, then refunded automatically (never failed).
        payment_events = list(
            Event.objects.filter(object_id=duplicate.id).order_by("seq").values_list("type", flat=True)
        )
        assert payment_events[0] == "payment.created" and payment_events[-1] == "payment.duplicate"
        assert set(payment_events) <= {"payment.created", "payment.pending", "payment.duplicate"}
        refund_events = list(Event.objects.filter(object_id=refund.id).order_by("seq").values_list("type", flat=True))
        assert refund_events == ["refund.created", "refund.processed"]
        api = alice.client.get(f"/api/v1/payments/{duplicate.id}").json()
        assert (api["status"], api["error_code"]) == ("duplicate", "duplicate_payment")

    # The merchant's events API lists each duplicate charge under its own type.
    def listed() -> set[str]:
        body = alice.client.get("/api/v1/events", {"type": "payment.duplicate", "limit": 100}).json()
        return {e["data"]["payment"]["id"] for e in body["data"]}

    wait_for(lambda: listed() == {d.id for d in duplicates}, timeout=15, message="events API lists the duplicates")

    # webhook_logs rows and what the receiver got
    logged = list(WebhookDelivery.objects.filter(event_id__in=wanted_events).values_list("event_type", "status"))
    assert sorted(t for t, _ in logged) == sorted(
        ["payment.success"] + ["payment.duplicate", "refund.created", "refund.processed"] * len(duplicates)
    )
    assert {status for _, status in logged} == {"success"}
    assert not WebhookDelivery.objects.filter(merchant=alice.merchant, event_type="payment.failed").exists()
    got = [(b["event"], b["data"]) for b in bodies]
    duplicate_ids = {d.id for d in duplicates}
    assert {data["payment"]["id"] for event, data in got if event == "payment.duplicate"} == duplicate_ids
    refunded = {data["refund"]["payment_id"] for event, data in got if event == "refund.processed"}
    assert refunded == duplicate_ids
    assert all(data["refund"]["reason"] == "duplicate_payment" for event, data in got if event.startswith("refund."))

    # Reconciliation over the period agrees: every charge matched, nothing open.
    outcome = reconciliation_run(
        provider="simulator", period_start=started - timedelta(minutes=1), period_end=timezone.now()
    )
    assert outcome.counts == {"matched": len(methods)}
    assert not Discrepancy.objects.filter(payment__order_id=order["id"], status="open").exists()
