"""A 1,000-item batch end to end with real processes (its acceptance time is measured in
bench/batches.py): the outbox dispatcher, a payments worker and the simulator (its signed
callbacks into a real daphne) settle every item, the batch completes once, and its
batch.completed webhook, signed and delivered by the real webhooks worker to a loopback
receiver, lists exactly the items that failed."""

from __future__ import annotations

import json

import pytest

from payments.models import Payment, PaymentBatch
from tests.support.processes import celery_worker, daphne_server, wait_for
from tests.webhooks.receiver import running_receiver
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.live]

ITEMS = 1000  # the batch size PRODUCT.md §12 allows


def test_batch_completes_and_its_webhook_lists_exactly_the_failed(alice, simulator, tmp_path):
    failing = set(range(0, ITEMS, 9))  # 112 items the payer's bank declines
    items = [
        {"reference": f"payout-{i}", "amount": 10_000 + i, "vpa": "failure@upi" if i in failing else "success@upi"}
        for i in range(ITEMS)
    ]
    with running_receiver() as receiver:
        endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["batch.*"], actor="test")
        env = {"TEST_PROCESSING_DELAY": "200"}
        with (
            daphne_server(env=env) as base,
            celery_worker(queues="outbox", concurrency=1, env={"SIMULATOR_CALLBACK_BASE_URL": base, **env}),
            celery_worker(
                queues="default,payments,webhooks,webhook_retries",
                env={"SIMULATOR_CALLBACK_BASE_URL": base, **env},
                log_path=tmp_path / "worker.log",
            ),
        ):
            response = alice.client.post(
                "/api/v1/payments/batch", {"reference": "payouts", "items": items}, format="json"
            )
            assert response.status_code == 202 and response.json()["accepted"] == ITEMS
            batch_id = response.json()["id"]
            wait_for(lambda: receiver.count() >= 1, timeout=300, interval=0.5, message="the batch.completed webhook")
    batch = PaymentBatch.objects.get(pk=batch_id)
    assert batch.status == "completed" and batch.completed_at is not None
    [delivery] = receiver.received
    payload = json.loads(delivery.body)
    assert payload["event"] == "batch.completed"
    data = payload["data"]["batch"]
    counts = (data["success_count"], data["failed_count"], data["pending_count"])
    assert counts == (ITEMS - len(failing), len(failing), 0)
    declined = dict(Payment.objects.filter(batch_id=batch_id, status="failed").values_list("reference", "id"))
    assert set(declined) == {f"payout-{i}" for i in failing}
    assert {(f["reference"], f["payment_id"]) for f in data["failed"]} == set(declined.items())
    assert {f["error_code"] for f in data["failed"]} == {"payment_declined"}
