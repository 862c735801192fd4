"""Fixtures for webhook tests: payments with events, loopback receivers, a Beat-equivalent
sweeper thread, and a real Celery worker on the webhook queues."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, transaction

from payments.models import Merchant, Order, Payment
from payments.outbox import event_record, outbox_dispatch_all
from payments.services.transitions import payment_transition
from payments.snapshots import payment_snapshot
from tests.support.processes import BIN, ROOT, celery_worker, process_env, stop_process, wait_for
from webhooks.services.delivery import deliveries_sweep


def payment_make(merchant: Merchant, *, amount: int = 50000) -> Payment:
    """A pending UPI payment with its payment.created event (as the payments API writes it)."""
    with transaction.atomic():
        order = Order.objects.create(merchant=merchant, amount=amount, currency="INR")
        payment = Payment.objects.create(
            merchant=merchant, order=order, amount=amount, currency="INR", method="upi", vpa="user@okhdfc"
        )
        event_record(
            merchant_id=merchant.id,
            type="payment.created",
            object_type="payment",
            object_id=payment.id,
            version=payment.version,
            data={"payment": payment_snapshot(payment)},
        )
    return payment


def payment_succeed(merchant: Merchant) -> Payment:
    payment = payment_make(merchant)
    return payment_transition(payment_id=payment.id, to_status="success", source="test").obj


# The Procfile's webhooks worker runs `--pool=threads --concurrency=32`; 16 threads in tests
# keep a test's share of the machine's 100 PostgreSQL connections small.
WEBHOOKS_POOL = "threads"
WEBHOOKS_CONCURRENCY = 16
PROCFILE_WEBHOOKS_CONCURRENCY = 32


@contextmanager
def procfile_workers(
    *,
    env: dict[str, str] | None = None,
    webhooks_env: dict[str, str] | None = None,
    concurrency: int = WEBHOOKS_CONCURRENCY,
) -> Iterator[subprocess.Popen]:
    """The Procfile's webhook path as real processes: the outbox dispatcher (prefork, 1
    process) and the dedicated webhooks worker, which is yielded (to kill or inspect).
    ``env`` goes to both, ``webhooks_env`` to the webhooks worker only (e.g. PGAPPNAME,
    which libpq reports as the application_name of its PostgreSQL sessions);
    ``concurrency`` = 32 is the Procfile's thread count exactly."""
    with (
        celery_worker(queues="outbox", concurrency=1, env=env),
        celery_worker(
            queues="webhooks,webhook_retries",
            pool=WEBHOOKS_POOL,
            concurrency=concurrency,
            env={**(env or {}), **(webhooks_env or {})},
        ) as webhooks,
    ):
        yield webhooks


@contextmanager
def sweeper(interval: float = 0.5) -> Iterator[None]:
    """What Beat does in production: outbox sweep + webhook sweep, every ``interval`` s."""
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(interval):
                try:
                    outbox_dispatch_all()
                    deliveries_sweep()
                except Exception:
                    pass
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.fixture
def flush_test_redis(redis_client):
    """Flush both test Redis databases (cache/locks and the Celery broker)."""
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()

    def flush() -> None:
        redis_client.flushdb()
        broker.flushdb()

    yield flush
    broker.flushdb()


@contextmanager
def throwaway_redis(port: int) -> Iterator[subprocess.Popen]:
    """A private redis-server on ``port`` (never the shared one), stopped on exit."""
    import redis

    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_for(up, timeout=10, message="throwaway redis-server")
        yield proc
    finally:
        stop_process(proc)


@contextmanager
def celery_process(kind: str, env: dict[str, str], log: Path | None = None) -> Iterator[subprocess.Popen]:
    """A real ``celery worker`` or ``celery beat`` process with ``env`` (e.g. another Redis).
    ``worker`` serves every webhook queue (prefork); ``outbox`` and ``webhooks`` are the
    Procfile's two workers of the webhook path."""
    name = f"{kind}-{os.getpid()}-{time.monotonic_ns()}@localhost"
    tail = ["-n", name, "--without-gossip", "--without-mingle"]
    args = {
        "worker": [
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
            "-Q",
            "outbox,webhooks,webhook_retries",
            "-n",
            f"outage-{os.getpid()}-{time.monotonic_ns()}@localhost",
            "--without-gossip",
            "--without-mingle",
        ],
        "outbox": ["worker", "--loglevel=WARNING", "--concurrency=1", "-Q", "outbox", *tail],
        "webhooks": [
            "worker",
            "--loglevel=WARNING",
            f"--pool={WEBHOOKS_POOL}",
            f"--concurrency={WEBHOOKS_CONCURRENCY}",
            "-Q",
            "webhooks,webhook_retries",
            *tail,
        ],
        "beat": ["beat", "--loglevel=WARNING", "--max-interval=1"],
    }[kind]
    handle = open(log or os.devnull, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", *args],
        cwd=ROOT,
        env=process_env(**env),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_process(proc)
        handle.close()
