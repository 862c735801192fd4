"""Concurrent duplicates: 32 simultaneous requests with one Idempotency-Key make exactly one
payment and one provider submission; two refunds that together overshoot: one wins."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from payments.models import IdempotencyKey, Payment, Refund, SimulatorTransaction
from tests.payments.factories import OrderFactory, SuccessfulPaymentFactory
from tests.support.processes import celery_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def burst(tenant, n: int, path: str, body: dict, headers: dict | None = None) -> list[tuple[int, bytes]]:
    barrier = threading.Barrier(n)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def one() -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=tenant.key_id, HTTP_X_API_SECRET=tenant.secret)
        try:
            barrier.wait(10)
            response = client.post(path, body, format="json", **(headers or {}))
            with lock:
                results.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == n
    return results


@pytest.mark.worker
def test_32_concurrent_same_key_make_one_payment_and_one_submission(alice, simulator, tmp_path):
    order = OrderFactory(merchant=alice.merchant, amount=7500)
    body = {"order_id": order.id, "method": "upi", "vpa": "timeout@upi"}
    with celery_worker(queues="payments,outbox", log_path=tmp_path / "worker.log"):
        results = burst(alice, 32, "/api/v1/payments", body, {"HTTP_IDEMPOTENCY_KEY": "same-key"})
        statuses = Counter(status for status, _ in results)
        assert set(statuses) <= {201, 409}, statuses
        assert statuses[201] >= 1
        bodies = {content for status, content in results if status == 201}
        assert len(bodies) == 1  # every success is byte-identical
        assert Payment.objects.count() == 1
        payment = Payment.objects.get()
        assert payment.id.encode() in bodies.pop()
        wait_for(lambda: Payment.objects.get().version == 2, timeout=15, message="submission")
    assert SimulatorTransaction.objects.filter(payment_id=payment.id).count() == 1
    assert IdempotencyKey.objects.get().state == "completed"
    for status, content in results:
        if status == 409:
            assert b'"code":"CONFLICT_ERROR"' in content


def test_two_concurrent_refunds_over_the_amount_one_wins(alice):
    payment = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000))
    for _ in range(5):  # repeat: a race that passes once by luck must pass every time
        Refund.objects.all().delete()
        results = burst(alice, 2, f"/api/v1/payments/{payment.id}/refunds", {"amount": 6000})
        statuses = sorted(status for status, _ in results)
        assert statuses == [201, 400]
        assert any(b"refund_exceeds_available" in content for _, content in results)
        assert Refund.objects.count() == 1


def test_many_concurrent_partial_refunds_never_overshoot(alice):
    payment = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000))
    results = burst(alice, 16, f"/api/v1/payments/{payment.id}/refunds", {"amount": 3000})
    assert sorted(status for status, _ in results) == [201] * 3 + [400] * 13
    assert sum(Refund.objects.values_list("amount", flat=True)) == 9000
