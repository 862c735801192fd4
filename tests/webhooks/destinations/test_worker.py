"""Event destinations with the real processes: a Celery outbox worker whose dispatch wakes
the publisher process (NOTIFY), which publishes to all three brokers; a publisher killed
mid-batch, with the Celery broker flushed, loses nothing (the cursor in PostgreSQL and the
new publisher's poll re-derive the work)."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings
from django.db import connection

from payments.services.transitions import payment_transition
from tests.support.processes import celery_worker, wait_for
from tests.webhooks.conftest import payment_make
from tests.webhooks.destinations.conftest import (
    destination_add,
    events_commit,
    nats_read,
    publisher_process,
    rabbitmq_bind,
    rabbitmq_read,
    redis_read,
    versions_by_object,
)
from webhooks.destinations.models import EventDestination
from webhooks.destinations.publishing import destinations_wake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@contextmanager
def stream_worker(tmp_path, name: str = "worker", **env: str) -> Iterator[None]:
    """The Procfile's outbox worker and streams publisher."""
    with (
        celery_worker(queues="outbox", concurrency=1, env=env, log_path=tmp_path / f"{name}-outbox.log"),
        publisher_process(log_path=tmp_path / f"{name}-publisher.log", **env),
    ):
        yield


def cursor_of(destination: dict) -> tuple[int, int]:
    return EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=destination["id"])


def test_a_payments_events_reach_a_consumer_of_each_type_in_version_order(
    alice, tmp_path, redis_target, rabbitmq_target, nats_target
):
    destinations = {
        "redis_stream": destination_add(alice, "redis_stream", redis_target),
        "rabbitmq": destination_add(alice, "rabbitmq", rabbitmq_target),
        "nats": destination_add(alice, "nats", nats_target),
    }
    queue = rabbitmq_bind(rabbitmq_target, queue="all")
    try:
        with stream_worker(tmp_path):
            payments = [payment_make(alice.merchant) for _ in range(5)]  # payment.created, version 1
            for payment in payments:  # payment.success, version 2
                payment_transition(payment_id=payment.id, to_status="success", source="test")
            wait_for(
                lambda: all(
                    EventDestination.objects.get(pk=d["id"]).published_total >= 10 for d in destinations.values()
                ),
                timeout=30,
                message="every destination to publish the 10 events",
            )
        expected = {p.id: [1, 2] for p in payments}
        assert versions_by_object(redis_read(redis_target, count=10)) == expected
        assert versions_by_object(rabbitmq_read(queue, queue="all", count=10)) == expected
        assert versions_by_object(nats_read(nats_target, count=10)) == expected
    finally:
        queue.close()


def test_publisher_killed_mid_batch_and_celery_broker_flushed_loses_nothing(alice, tmp_path, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target)
    env = {"EVENT_DESTINATION_BATCH_SIZE": "20", "EVENT_DESTINATION_LEASE_SECONDS": "3"}
    # Slow the publisher down so the kill lands mid-run: a 1,200-event backlog in batches of 20.
    events = events_commit(alice.merchant, objects=300, versions=4)
    with (
        celery_worker(queues="outbox", concurrency=1, env=env, log_path=tmp_path / "outbox.log"),
        publisher_process(log_path=tmp_path / "first.log", **env) as publisher,
    ):
        wait_for(
            lambda: EventDestination.objects.get(pk=destination["id"]).published_total >= 100,
            timeout=30,
            message="publishing to be under way",
        )
        os.killpg(publisher.pid, signal.SIGKILL)
    published_before = EventDestination.objects.get(pk=destination["id"]).published_total
    assert published_before < len(events)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    # No wake is left: the new publisher's own poll finds the destination once the dead one's
    # lease has expired.
    with publisher_process(log_path=tmp_path / "second.log", **env):
        wait_for(
            lambda: cursor_of(destination) >= (events[-1].txid, events[-1].seq),
            timeout=60,
            message="the cursor to reach the last event",
        )
    entries = redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])
    ids = [fields[b"id"].decode() for _, fields in entries]
    first_seen = list(dict.fromkeys(ids))  # a resend after the kill is possible; dedup by id
    assert first_seen == [e.id for e in events]
    bodies = redis_read(redis_target, count=len(entries))
    assert versions_by_object(bodies) == {f"pay_{i:04d}": [1, 2, 3, 4] for i in range(300)}


def test_a_drain_waiting_for_more_gives_its_only_thread_to_another_destination(alice, bob, tmp_path):
    """One drain thread; Alice's destination has a live flow (a wake every 20 ms, so its
    drain keeps waiting for more, lease held) and a drain budget of 120 s. Bob's one event
    is still published at once: the waiting drain gave the thread up."""
    stream_a, stream_b = unique_stream("a"), unique_stream("b")
    busy = destination_add(alice, "redis_stream", {"url": settings.REDIS_URL, "stream": stream_a})
    quiet = destination_add(bob, "redis_stream", {"url": settings.REDIS_URL, "stream": stream_b})
    client = redis.Redis.from_url(settings.REDIS_URL)
    flowing = threading.Event()
    stop = threading.Event()

    def alice_flow() -> None:
        n = 0
        while not stop.is_set():
            events_commit(alice.merchant, objects=1, versions=1, prefix=f"flow{n}")
            destinations_wake(destination_ids=[busy["id"]])
            n += 1
            if client.xlen(stream_a) >= 5:
                flowing.set()
            stop.wait(0.02)
        connection.close()

    try:
        budget = {"EVENT_DESTINATION_DRAIN_SECONDS": "120", "EVENT_DESTINATION_LEASE_SECONDS": "300"}
        with publisher_process(log_path=tmp_path / "publisher.log", threads=1, **budget):
            flow = threading.Thread(target=alice_flow, daemon=True)
            flow.start()
            wait_for(flowing.is_set, timeout=30, message="Alice's flow to be published")
            events_commit(bob.merchant, objects=1, versions=1)
            destinations_wake(destination_ids=[quiet["id"]])
            wait_for(lambda: client.xlen(stream_b) == 1, timeout=30, message="Bob's event")
            assert flow.is_alive() and not stop.is_set()  # served during Alice's flow
            published_a = client.xlen(stream_a)
            wait_for(lambda: client.xlen(stream_a) > published_a, timeout=30, message="Alice's flow to go on")
    finally:
        stop.set()
        client.delete(stream_a, stream_b)


def unique_stream(tag: str) -> str:
    return f"tender-test-sticky-{tag}-{uuid.uuid4().hex[:8]}"
