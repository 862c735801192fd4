"""Fixtures for event-destination tests: targets on the real brokers (a stream on the test
Redis database, a vhost of our own on RabbitMQ, subjects and streams of our own on NATS),
committed events, and the sample consumers of examples/streams as the readers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction

from payments.models import Event, Merchant
from payments.outbox import event_record
from tests.support.brokers import NATS_URL, nats_streams_delete, rabbitmq_vhost, unique
from tests.support.processes import ROOT, process_env, stop_process, wait_for
from webhooks.destinations.publishing import broker_connections_close

sys.path.insert(0, str(ROOT / "examples" / "streams"))

import nats_consumer
import rabbitmq_consumer
import redis_stream_consumer


@pytest.fixture(autouse=True)
def _broker_connections_closed() -> Iterator[None]:
    """Publishers run in the test process here: close their connections after each test."""
    yield
    broker_connections_close()


def _listeners() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'tender-event-stream-listener' AND query ILIKE 'LISTEN%%'"
        )
        return cursor.fetchone()[0]


@contextmanager
def publisher_process(*, log_path: Path | None = None, threads: int = 4, **env: str) -> Iterator[subprocess.Popen]:
    """The real publisher process (the Procfile's ``streams`` line, manage.py
    event_stream_publisher) against the test database; yields once it LISTENs."""
    before = _listeners()
    log = open(log_path or "/dev/null", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "event_stream_publisher", f"--threads={threads}"],
        cwd=ROOT,
        env=process_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: _listeners() > before or proc.poll() is not None, timeout=30, message="the publisher to listen"
        )
        assert proc.poll() is None, "the publisher exited during start-up"
        yield proc
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="session")
def vhost() -> Iterator[str]:
    with rabbitmq_vhost() as name:
        yield name


@pytest.fixture
def redis_target() -> Iterator[dict[str, Any]]:
    stream = unique("tender-test-stream-")
    yield {"url": settings.REDIS_URL, "stream": stream}
    redis.Redis.from_url(settings.REDIS_URL).delete(stream)


@pytest.fixture
def rabbitmq_target(vhost: str) -> dict[str, Any]:
    return {"url": f"amqp://guest:guest@127.0.0.1:5672/{vhost}", "exchange": unique("tender.test.")}


@pytest.fixture
def nats_target() -> Iterator[dict[str, Any]]:
    token = unique("t")
    target = {"url": NATS_URL, "subject_prefix": f"tender.test.{token}", "stream": f"TENDER_TEST_{token}"}
    yield target
    nats_streams_delete(NATS_URL, [target["stream"]])


def destination_add(tenant, type: str, target: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = tenant.client.post(
        "/api/v1/event-destinations", {"type": type, "target": target, **fields}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def events_commit(merchant: Merchant, *, objects: int, versions: int, prefix: str = "pay") -> list[Event]:
    """``objects`` payments each moving through ``versions`` versions, one committed
    transaction per version step of each object, interleaved across objects."""
    types = ["payment.created", "payment.pending", "payment.success", "payment.captured"]
    events = []
    for version in range(1, versions + 1):
        for index in range(objects):
            object_id = f"{prefix}_{index:04d}"
            with transaction.atomic():
                events.append(
                    event_record(
                        merchant_id=merchant.id,
                        type=types[min(version, len(types)) - 1],
                        object_type="payment",
                        object_id=object_id,
                        version=version,
                        data={"payment": {"id": object_id, "version": version, "amount": 50000}},
                    )
                )
    return events


def deadline_after(seconds: float):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() > end


def redis_read(target: dict[str, Any], *, count: int, timeout: float = 10, group: str = "g") -> list[dict]:
    got: list[dict] = []
    late = deadline_after(timeout)
    redis_stream_consumer.consume(
        redis.Redis.from_url(target["url"]),
        stream=target["stream"],
        group=group,
        consumer="c1",
        handle=got.append,
        should_stop=lambda: len(got) >= count or late(),
        block_ms=100,
    )
    return got


def rabbitmq_bind(target: dict[str, Any], *, queue: str, binding: str = "#"):
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(target["url"]))
    channel = connection.channel()
    rabbitmq_consumer.queue_bind(channel, exchange=target["exchange"], queue=queue, binding=binding)
    return connection


def rabbitmq_read(connection, *, queue: str, count: int, timeout: float = 10) -> list[dict]:
    got: list[dict] = []
    late = deadline_after(timeout)
    rabbitmq_consumer.consume(
        connection.channel(), queue=queue, handle=got.append, should_stop=lambda: len(got) >= count or late()
    )
    return got


def nats_read(target: dict[str, Any], *, count: int, timeout: float = 10, durable: str = "c1") -> list[dict]:
    got: list[dict] = []
    late = deadline_after(timeout)
    asyncio.run(
        nats_consumer.consume(
            target["url"],
            subject_prefix=target["subject_prefix"],
            durable=durable,
            handle=got.append,
            should_stop=lambda: len(got) >= count or late(),
        )
    )
    return got


def versions_by_object(bodies: list[dict]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for body in bodies:
        payment = body["data"]["payment"]
        seen.setdefault(payment["id"], []).append(payment["version"])
    return seen
