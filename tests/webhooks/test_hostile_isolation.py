"""50 hostile endpoints (one merchant, each receiver its own process) beside a healthy
endpoint of another merchant, through the Procfile's webhook path as real processes (the
outbox worker and the webhooks worker, threads pool, 32 threads) and a Beat-equivalent
sweeper: the healthy endpoint's deliveries keep p99 < 1 s, every hostile attempt is
recorded failed within the deadline + 2 s with its error class, and no delivery is ever
sent twice at once."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from contextlib import ExitStack

import pytest
from django.db import connection

from payments.models import Event
from payments.outbox import outbox_dispatch_all
from tests.factories import MerchantFactory
from tests.support.processes import wait_for
from tests.webhooks.conftest import PROCFILE_WEBHOOKS_CONCURRENCY, payment_make, procfile_workers, sweeper
from tests.webhooks.hostile_receiver import MODES
from tests.webhooks.receiver import hostile_receivers_start, running_receiver
from tests.webhooks.test_hostile_receivers import EXPECTED_ERROR
from webhooks.models import WebhookAttempt
from webhooks.services.delivery import endpoint_drain
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HOSTILE_ENDPOINTS = 50
# Shorter than the 10 s default: the same mechanism (test_hostile_receivers.py runs the
# real default), and the same arithmetic, only turning over faster.
DEADLINE = 3.0
SWEEP_INTERVAL = 5.0  # Beat's "webhooks: sweep due and orphaned deliveries" interval


class _AttemptObserver:
    """Polls webhook_attempts every 0.1 s on its own connection and notes when each row
    was first seen: an upper bound on when it was recorded."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _AttemptObserver:
        self._thread.start()
        return self

    def _loop(self) -> None:
        last = 0
        try:
            while not self._stop.wait(0.1):
                # ids are taken at insert, rows appear at commit: look back over recent ids
                ids = list(WebhookAttempt.objects.filter(pk__gt=last - 2000).values_list("id", flat=True))
                now = time.time()
                for attempt_id in ids:
                    self.seen.setdefault(attempt_id, now)
                last = max(ids, default=last)
        finally:
            connection.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_fifty_hostile_endpoints_leave_another_merchants_endpoint_prompt(alice, bob, flush_test_redis):
    warmup_seconds, ticks, tick = 3.0, 80, 0.15
    with ExitStack() as stack:
        hostile = hostile_receivers_start(
            stack, [MODES[i % len(MODES)] for i in range(HOSTILE_ENDPOINTS)], interval=0.2
        )
        healthy = stack.enter_context(running_receiver())
        # 50 endpoints need four merchant accounts (at most 16 endpoints each): alice and three more
        attackers = [alice.merchant, *(MerchantFactory() for _ in range(3))]
        mode_of: dict[str, str] = {}
        for number, receiver in enumerate(hostile):
            endpoint = endpoint_create(
                merchant=attackers[number % len(attackers)],
                url=receiver.url,
                event_types=["payment.created"],
                actor="t",
            )
            mode_of[endpoint.id] = receiver.mode
        good = endpoint_create(merchant=bob.merchant, url=healthy.url, event_types=["payment.created"], actor="t")
        # bob's endpoint is an established one: it has received a delivery before.
        payment_make(bob.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=good.id)
        assert healthy.count() == 1

        stack.enter_context(
            procfile_workers(env={"WEBHOOK_TOTAL_TIMEOUT": str(DEADLINE)}, concurrency=PROCFILE_WEBHOOKS_CONCURRENCY)
        )
        # unwinds before the workers stop: attempts in flight end at once, so does the worker
        stack.callback(lambda: [receiver.process.kill() for receiver in hostile])
        stack.enter_context(sweeper(interval=SWEEP_INTERVAL))
        observer = stack.enter_context(_AttemptObserver())

        # the same box, no attack yet: what bob's deliveries cost here anyway (printed, for scale)
        quiet: dict[str, float] = {}
        for _ in range(30):
            event = Event.objects.get(object_id=payment_make(bob.merchant).id)
            quiet[event.id] = event.created_at.timestamp()
            time.sleep(tick)
        wait_for(lambda: healthy.count() == 31, timeout=15, message="the quiet deliveries")
        baseline = sorted(r.at - quiet[r.webhook_id] for r in healthy.received if r.webhook_id in quiet)

        # the attackers' events go to all 50 hostile endpoints; they are at it when bob's start
        warmup_end = time.monotonic() + warmup_seconds
        for number in itertools.count():
            payment_make(attackers[number % len(attackers)])
            if time.monotonic() > warmup_end:
                break
            time.sleep(tick / 2)
        bob_events: dict[str, float] = {}
        for number in range(ticks):
            started = time.monotonic()
            payment_make(attackers[number % len(attackers)])
            payment = payment_make(bob.merchant)
            event = Event.objects.get(object_id=payment.id)
            bob_events[event.id] = event.created_at.timestamp()
            time.sleep(max(0.0, tick - (time.monotonic() - started)))
        wait_for(lambda: healthy.count() == ticks + 31, timeout=15, message="every healthy delivery")
        # the slow lane serves its line in order: every hostile endpoint gets its turns
        wait_for(
            lambda: WebhookAttempt.objects.filter(delivery__endpoint_id__in=list(mode_of))
            .values("delivery__endpoint_id")
            .distinct()
            .count()
            == HOSTILE_ENDPOINTS,
            timeout=30,
            interval=0.5,
            message="every hostile endpoint to have been attempted",
        )
        observed = dict(observer.seen)
        # attempts that started early enough to have been recorded, in time, before the
        # observer's last look (it looks every 0.1 s)
        checked_until = time.time() - (DEADLINE + 2) - 0.3

        latencies = sorted(r.at - bob_events[r.webhook_id] for r in healthy.received if r.webhook_id in bob_events)
        attempts = list(
            WebhookAttempt.objects.filter(delivery__endpoint_id__in=list(mode_of)).values(
                "id", "started_at", "latency_ms", "error_class", "delivery__endpoint_id"
            )
        )
        checked = [a for a in attempts if a["started_at"].timestamp() < checked_until]
        record_lag = [observed[a["id"]] - a["started_at"].timestamp() for a in checked if a["id"] in observed]
        p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
        print(
            f"\nhealthy endpoint beside {HOSTILE_ENDPOINTS} hostile ones (threads pool, "
            f"{PROCFILE_WEBHOOKS_CONCURRENCY} threads, deadline {DEADLINE:g} s): {len(latencies)} deliveries "
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
            f"{len(attempts)} hostile attempts on {len({a['delivery__endpoint_id'] for a in attempts})} endpoints, "
            f"recorded at most {max(record_lag):.2f} s after they started (slowest attempt "
            f"{max(a['latency_ms'] for a in attempts)} ms); the same box with no attack: "
            f"p50 {statistics.median(baseline) * 1000:.0f} ms, max {baseline[-1] * 1000:.0f} ms"
        )
        breakdown = list(
            WebhookAttempt.objects.filter(delivery__endpoint_id=good.id).values_list(
                "started_at", "delivery__created_at", "delivery__event__created_at"
            )
        )
        fanned = sorted((d - e).total_seconds() for _, d, e in breakdown)
        to_attempt = sorted((a - d).total_seconds() for a, d, _ in breakdown)
        print(
            f"healthy breakdown: event -> fanned out p50 {statistics.median(fanned) * 1000:.0f} ms "
            f"max {fanned[-1] * 1000:.0f} ms; fanned out -> attempt started p50 "
            f"{statistics.median(to_attempt) * 1000:.0f} ms max {to_attempt[-1] * 1000:.0f} ms"
        )
        assert len(latencies) == ticks
        assert p99 < 1.0, latencies[-10:]
        # every hostile endpoint was being attempted, and every attempt failed as its receiver dictates
        assert {a["delivery__endpoint_id"] for a in attempts} == set(mode_of)
        wrong = [(mode_of[a["delivery__endpoint_id"]], a["error_class"]) for a in attempts]
        assert all(EXPECTED_ERROR[mode] == error for mode, error in wrong), sorted(set(wrong))
        # the deadline held: each attempt's thread was done within 1 s of it (on a saturated
        # box the woken thread waits for the GIL), and each receiver saw its connection end
        assert max(a["latency_ms"] for a in attempts) <= (DEADLINE + 1) * 1000
        held = [r.closed - r.opened for receiver in hostile for r in receiver.finished()]
        assert max(held) <= DEADLINE + 1, max(held)
        assert len(record_lag) == len(checked)  # each was seen by the observer...
        assert max(record_lag) <= DEADLINE + 2  # ...within the deadline + 2 s of its start
        # never two attempts of one delivery at once, at any receiver
        assert [r.max_open_per_id() for r in hostile] == [1] * HOSTILE_ENDPOINTS
        assert healthy.max_in_flight_per_id == 1
