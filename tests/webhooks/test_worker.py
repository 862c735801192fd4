"""Delivery through REAL Celery workers and loopback receivers: the test retry schedule,
exhaustion and manual retry, a SIGKILLed worker plus a flushed Redis (a single prefork
worker, and the Procfile's threads-pool webhooks worker), and fairness between a hanging
endpoint and a fast one. A thread does what Beat does in production."""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

from payments.models import Event
from tests.support.processes import celery_worker, wait_for
from tests.webhooks.conftest import payment_make, payment_succeed, procfile_workers, sweeper
from tests.webhooks.receiver import Script, running_receiver
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUES = "outbox,webhooks,webhook_retries"


def _status(delivery_id: str) -> tuple[str, int]:
    d = WebhookDelivery.objects.get(pk=delivery_id)
    return d.status, d.attempts


def test_test_schedule_then_exhaustion_then_manual_retry(alice, flush_test_redis):
    """Failing 4 times: attempts ~0/+5/+10/+15/+20 s, success at attempt 5, one webhook-id,
    valid signatures each time. Failing always: failed after 5; a manual retry succeeds."""
    with (
        running_receiver(Script(fail_first=4)) as flaky,
        running_receiver(Script(always_status=500)) as dead,
        celery_worker(queues=QUEUES, env={"WEBHOOK_RETRY_INTERVALS_TEST": "true"}),
        sweeper(),
    ):
        flaky_ep = endpoint_create(merchant=alice.merchant, url=flaky.url, event_types=["payment.success"], actor="t")
        dead_ep = endpoint_create(merchant=alice.merchant, url=dead.url, event_types=["payment.success"], actor="t")
        payment_succeed(alice.merchant)
        wait_for(lambda: WebhookDelivery.objects.count() == 2, timeout=10, message="fan-out")
        ok = WebhookDelivery.objects.get(endpoint=flaky_ep)
        bad = WebhookDelivery.objects.get(endpoint=dead_ep)
        wait_for(lambda: _status(ok.id) == ("success", 5), timeout=75, message="flaky endpoint success")
        wait_for(lambda: _status(bad.id) == ("failed", 5), timeout=15, message="dead endpoint failed")

        times = [r.at for r in flaky.received]
        gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
        for gap, expected in zip(gaps, [5, 10, 15, 20], strict=True):
            assert expected - 0.5 <= gap <= expected + 2.0, gaps
        event_id = ok.event.id
        for r in flaky.received + dead.received:
            assert r.headers["webhook-id"] == event_id
            assert StandardWebhook(flaky_ep.secret if r in flaky.received else dead_ep.secret).verify(r.body, r.headers)
        for r in flaky.received:
            assert SvixWebhook(flaky_ep.secret).verify(r.body, r.headers)["event"] == "payment.success"
        assert len(dead.received) == 5
        assert list(bad.attempt_rows.values_list("status_code", flat=True)) == [500] * 5

        dead.script.always_status = None  # the merchant fixed their server
        response = alice.client.post(f"/api/v1/webhooks/{bad.id}/retry")
        assert response.json() == {"id": bad.id, "status": "pending", "message": "Webhook retry scheduled"}
        wait_for(lambda: _status(bad.id) == ("success", 1), timeout=10, message="manual retry success")
        assert dead.received[-1].headers["webhook-id"] == event_id
        assert bad.attempt_rows.count() == 6
        assert flaky.max_in_flight_per_id == dead.max_in_flight_per_id == 1


@contextmanager
def _workers(layout: str, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``one``: a single prefork worker on every webhook queue; ``procfile``: the outbox
    dispatcher plus the dedicated threads-pool webhooks worker (yielded)."""
    if layout == "one":
        with celery_worker(queues=QUEUES, env=env) as proc:
            yield proc
    else:
        with procfile_workers(env=env) as proc:
            yield proc


@pytest.mark.parametrize("layout", ["one", "procfile"])
def test_sigkill_mid_delivery_and_flushed_redis_lose_nothing(alice, flush_test_redis, layout):
    env = {"WEBHOOK_TOTAL_TIMEOUT": "4", "WEBHOOK_DELIVERY_LEASE_SECONDS": "9"}
    with running_receiver(Script(sleep=1.5)) as receiver:
        endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["payment.created"], actor="t")
        with _workers(layout, env) as first:
            for _ in range(4):
                payment_make(alice.merchant)
            wait_for(lambda: receiver.count() >= 1, timeout=30, message="first request in flight")
            os.killpg(first.pid, signal.SIGKILL)  # mid-delivery: the receiver is still sleeping
            first.wait(timeout=5)
        flush_test_redis()  # every queued message and countdown is gone
        for _ in range(2):  # events written while no worker runs and Redis is empty
            payment_make(alice.merchant)
        flush_test_redis()
        assert WebhookDelivery.objects.filter(status="success").count() < 6
        with _workers(layout, env), sweeper():
            wait_for(
                lambda: WebhookDelivery.objects.filter(status="success").count() == 6,
                timeout=90,
                message="every delivery to end success",
            )
        delivered = {r.webhook_id for r in receiver.received}
    assert delivered == set(Event.objects.filter(type="payment.created").values_list("id", flat=True))
    assert WebhookDelivery.objects.count() == 6
    assert receiver.max_in_flight_per_id == 1  # never two attempts in flight for one delivery
    # one claim per endpoint at a time, a few parallel requests inside it
    assert receiver.max_in_flight <= settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS


def test_hanging_endpoint_does_not_delay_a_fast_one(alice, bob, flush_test_redis):
    """Endpoint S sleeps 10 s per request (our timeout is 10 s); endpoint F answers at once.
    Both get every event; F's deliveries keep their latency while S holds one worker slot."""
    with (
        running_receiver(Script(sleep=10)) as slow,
        running_receiver() as fast,
        celery_worker(queues=QUEUES, concurrency=2),
    ):
        endpoint_create(merchant=alice.merchant, url=slow.url, event_types=["payment.created"], actor="t")
        endpoint_create(merchant=bob.merchant, url=fast.url, event_types=["payment.created"], actor="t")
        created_at: dict[str, float] = {}
        started = time.time()
        for _ in range(6):  # the slow merchant's events first, so its tasks queue ahead
            for merchant in (alice.merchant, bob.merchant):
                payment_make(merchant)
            time.sleep(0.2)
        for event in Event.objects.filter(merchant=bob.merchant):
            created_at[event.id] = event.created_at.timestamp()
        wait_for(lambda: fast.count() == 6, timeout=8, message="fast endpoint deliveries")
        latencies = sorted((r.at - created_at[r.webhook_id]) * 1000 for r in fast.received)
        slow_seen = slow.count()
    p50 = statistics.median(latencies)
    print(f"\nfast endpoint latency beside a 10 s-hanging one: p50 {p50:.0f} ms, max {latencies[-1]:.0f} ms")
    assert latencies[-1] < 1000, latencies
    assert time.time() - started < 9  # all of it happened before the first slow attempt could end
    assert 1 <= slow_seen <= settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS  # one claim, one worker slot
    body = json.loads(fast.received[0].body)
    assert body["event"] == "payment.created"
