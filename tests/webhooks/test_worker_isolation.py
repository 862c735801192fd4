"""The Procfile's dedicated webhooks worker (threads pool) as a REAL process: more hanging
endpoints than the old worker had processes leave a healthy endpoint's deliveries prompt,
and every delivery's database work runs on per-thread connections that stay bounded and
are handed back idle (no leaked transaction, none opened by the HTTP helper threads)."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from contextlib import ExitStack

import pytest
from django.conf import settings
from django.db import connection, transaction

from payments.models import Event
from payments.outbox import outbox_dispatch_all
from tests.support.processes import wait_for
from tests.webhooks.conftest import WEBHOOKS_CONCURRENCY, WEBHOOKS_POOL, payment_make, procfile_workers
from tests.webhooks.receiver import Receiver, Script, running_receiver
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OLD_PROCESSES = 2  # the shared prefork worker that used to serve the webhook queues


def test_hanging_endpoints_beyond_the_old_process_count_do_not_delay_a_healthy_one(alice, bob, flush_test_redis):
    """6 of alice's endpoints hold every request open until the test releases them (longer
    than the test, up to our 10 s read timeout), each with a backlog, so each holds a claim
    with 4 requests in flight; bob's endpoint answers at once. Each of bob's deliveries
    arrives within 2 s of its event while all 24 requests are still in flight; once
    released, every delivery to every endpoint ends ``success``, each exactly once."""
    hanging_count, backlog, rounds = 6, settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS, 10
    assert hanging_count > OLD_PROCESSES
    release = threading.Event()
    with ExitStack() as stack:
        hanging: list[Receiver] = [
            stack.enter_context(running_receiver(Script(hold=release))) for _ in range(hanging_count)
        ]
        healthy = stack.enter_context(running_receiver())
        for receiver in hanging:
            endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["payment.created"], actor="t")
        endpoint_create(merchant=bob.merchant, url=healthy.url, event_types=["payment.created"], actor="t")
        for _ in range(backlog):
            payment_make(alice.merchant)
        outbox_dispatch_all()  # the backlog is fanned out before the workers start

        stack.enter_context(procfile_workers())
        stack.callback(release.set)  # unwinds first: held requests answer before the workers stop
        wait_for(
            lambda: all(r.in_flight == backlog for r in hanging),
            timeout=15,
            message="every hanging endpoint to hold its claim's requests",
        )
        latencies: list[float] = []
        for number in range(1, rounds + 1):
            with transaction.atomic():  # one commit: alice's event and two of bob's (a 2-row claim)
                payment_make(alice.merchant)
                bob_payments = [payment_make(bob.merchant) for _ in range(2)]
            events = {
                e.id: e.created_at.timestamp() for e in Event.objects.filter(object_id__in=[p.id for p in bob_payments])
            }
            wait_for(
                lambda n=number: healthy.count() == 2 * n, timeout=5, message=f"healthy deliveries of round {number}"
            )
            for received in healthy.received[-2:]:
                latencies.append(received.at - events.pop(received.webhook_id))
            assert events == {}
        still_hanging = [r.in_flight for r in hanging]
        hang_seconds = time.time() - min(r.received[0].at for r in hanging)  # the oldest held request

        print(
            f"\nhealthy endpoint beside {hanging_count} hanging ones ({WEBHOOKS_POOL}, {WEBHOOKS_CONCURRENCY}): "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"over {len(latencies)} deliveries, {hang_seconds:.1f} s into the hang"
        )
        assert max(latencies) < 2.0, latencies
        # Measured while the hanging requests were genuinely in flight: none answered, none
        # timed out yet (the oldest is younger than our 10 s read timeout), each endpoint
        # still inside its one claim.
        assert still_hanging == [backlog] * hanging_count
        assert hang_seconds < settings.WEBHOOK_TOTAL_TIMEOUT
        assert all(r.count() == backlog for r in hanging)

        release.set()
        total = (backlog + rounds) * hanging_count + 2 * rounds
        wait_for(
            lambda: WebhookDelivery.objects.filter(status="success").count() == total,
            timeout=30,
            message="every delivery to end success after the release",
        )
        for receiver in hanging:
            assert receiver.count() == backlog + rounds  # each of alice's events once: nothing lost or repeated
            assert receiver.max_in_flight_per_id == 1
            assert receiver.max_in_flight == settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS  # one claim at a time
    assert WebhookDelivery.objects.count() == total
    assert healthy.count() == 2 * rounds


def _worker_sessions(app_name: str) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [app_name],
        )
        return list(cursor.fetchall())


def test_threads_pool_connections_are_per_thread_bounded_and_returned(alice, flush_test_redis):
    """12 endpoints with 8 due deliveries each, drained at once by the threads-pool worker
    (every claim sends through the per-claim HTTP threads). All 12 are held open together,
    so 12 worker threads are inside a delivery at the same moment; then all 96 finish.
    The worker's PostgreSQL sessions never exceed its thread count, the HTTP threads open
    none, and afterwards every session is idle (no transaction or advisory lock left open)."""
    endpoints_count, per_endpoint = 12, 8
    app_name = f"tender-webhooks-test-{uuid.uuid4().hex[:8]}"
    release = threading.Event()
    with ExitStack() as stack:
        receivers = [stack.enter_context(running_receiver(Script(hold=release))) for _ in range(endpoints_count)]
        for receiver in receivers:
            endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["payment.created"], actor="t")
        # established endpoints (fast lane): all 12 claims run at once, whatever the slow lane's width
        WebhookEndpoint.objects.update(slow_lane_until=None)
        for _ in range(per_endpoint):
            payment_make(alice.merchant)
        outbox_dispatch_all()  # fanned out before the worker starts: each first claim takes all 8
        assert WebhookDelivery.objects.count() == endpoints_count * per_endpoint
        stack.enter_context(procfile_workers(webhooks_env={"PGAPPNAME": app_name}))
        stack.callback(release.set)

        seen: set[int] = set()
        peak = 0

        def sample() -> bool:
            nonlocal peak
            sessions = _worker_sessions(app_name)
            seen.update(pid for pid, _ in sessions)
            peak = max(peak, len(sessions))
            return all(r.in_flight == settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS for r in receivers)

        wait_for(sample, timeout=15, message="every endpoint's claim sending in parallel")
        held = len(_worker_sessions(app_name))
        release.set()

        def done() -> bool:
            sample()
            return WebhookDelivery.objects.filter(status="success").count() == endpoints_count * per_endpoint

        wait_for(done, timeout=30, message="every delivery to end success")
        wait_for(
            lambda: all(state == "idle" for _, state in _worker_sessions(app_name)),
            timeout=5,
            message="the worker's sessions to be idle",
        )
        after = _worker_sessions(app_name)
        print(
            f"\nwebhooks worker sessions: {held} while {endpoints_count} claims were held, peak {peak}, "
            f"{len(seen)} distinct, {len(after)} idle after {endpoints_count * per_endpoint} deliveries"
        )
        # Each of the 12 concurrent drains ran on its own worker thread with its own session...
        assert held >= endpoints_count
        # ...and the per-claim HTTP threads (36 of them here) opened none: the bound is the pool size.
        assert peak <= WEBHOOKS_CONCURRENCY
        assert len(seen) <= WEBHOOKS_CONCURRENCY  # reused per thread (CONN_MAX_AGE), not one per delivery
        assert 1 <= len(after) <= WEBHOOKS_CONCURRENCY
        assert {state for _, state in after} == {"idle"}
    # the stopped worker left nothing behind (its backends exit as their sockets close)
    wait_for(lambda: _worker_sessions(app_name) == [], timeout=5, message="the worker's sessions to end")
