"""All three brokers stopped for 60 s while 5,000 events are committed: afterwards every
event is in every broker, in order, none lost; meanwhile a healthy destination and a
webhook endpoint of the same merchant kept being served, and the merchant was told.

Private brokers, never the shared ones: a Redis (AOF on) and a NATS (JetStream on disk)
on free ports, stopped and started again with their data, and a TCP proxy in front of the
shared RabbitMQ, cut (every connection dropped, the port refusing) and restored."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pika
import pytest
import redis
from django.db import connection, transaction

from payments.models import Event
from payments.outbox import event_record
from tests.support.brokers import RABBITMQ_HOST, RABBITMQ_PORT, PrivateNats, PrivateRedis, TcpProxy, unique
from tests.support.processes import celery_worker, wait_for
from tests.webhooks.destinations.conftest import destination_add, publisher_process, rabbitmq_bind
from tests.webhooks.receiver import running_receiver
from webhooks.destinations.models import EventDestination
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

OUTAGE_SECONDS = float(os.environ.get("TENDER_STREAM_OUTAGE_SECONDS", "60"))
EVENTS = 5000
PER_TRANSACTION = 5


def produce(merchant_id, *, count: int, seconds: float, stop: threading.Event) -> None:
    """``count`` payment events over ``seconds``, 5 per transaction, each object moving
    through versions 1..4 (objects interleaved, so order per object is what is checked)."""
    types = ["payment.created", "payment.pending", "payment.success", "payment.captured"]
    objects = count // 4
    pause = seconds / (count / PER_TRANSACTION)
    try:
        sequence = [(version, index) for version in range(1, 5) for index in range(objects)]
        for start in range(0, len(sequence), PER_TRANSACTION):
            if stop.is_set():
                return
            with transaction.atomic():
                for version, index in sequence[start : start + PER_TRANSACTION]:
                    object_id = f"pay_{index:05d}"
                    event_record(
                        merchant_id=merchant_id,
                        type=types[version - 1],
                        object_type="payment",
                        object_id=object_id,
                        version=version,
                        data={"payment": {"id": object_id, "version": version}},
                    )
            time.sleep(pause)
    finally:
        connection.close()


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def redis_ids(url: str, stream: str) -> list[str]:
    return [f[b"id"].decode() for _, f in redis.Redis.from_url(url).xrange(stream)]


def rabbitmq_ids(url: str, queue: str) -> list[str]:
    connection_ = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection_.channel()
    ids = []
    while True:
        method, properties, _ = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        ids.append(properties.headers["event-id"])
    connection_.close()
    return ids


def nats_ids(url: str, subject_prefix: str, *, expected: int) -> list[str]:
    """Every message of the stream, read with a durable pull consumer until at least
    ``expected`` arrived and a fetch comes back empty (or 60 s passed)."""
    import nats

    async def run() -> list[str]:
        nc = await nats.connect(url)
        subscription = await nc.jetstream(timeout=30).pull_subscribe(f"{subject_prefix}.>", durable="check")
        ids: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                batch = await subscription.fetch(1000, timeout=2)
            except TimeoutError:  # nats-py raises its own subclass or the builtin
                if len(ids) >= expected:
                    break
                continue
            for message in batch:
                ids.append(message.headers["event-id"])
                await message.ack()
        await nc.close()
        return ids

    return asyncio.run(run())


def test_brokers_down_60s_during_5000_events_lose_nothing_and_hold_no_one_else(alice, tmp_path, vhost, redis_target):
    private_redis = PrivateRedis(data_dir=tmp_path / "redis")
    private_nats = PrivateNats(data_dir=tmp_path / "nats")
    proxy = TcpProxy((RABBITMQ_HOST, RABBITMQ_PORT))
    exchange = unique("tender.outage.")
    rabbit_direct = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}"
    private_redis.start()
    private_nats.start()
    proxy.start()
    stop = threading.Event()
    try:
        stream = unique("tender-outage-")
        prefix = f"tender.outage.{unique('t')}"
        down = {
            "redis_stream": destination_add(alice, "redis_stream", {"url": private_redis.url, "stream": stream}),
            "rabbitmq": destination_add(
                alice,
                "rabbitmq",
                {"url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}", "exchange": exchange},
            ),
            "nats": destination_add(alice, "nats", {"url": private_nats.url, "subject_prefix": prefix}),
        }
        healthy = destination_add(alice, "redis_stream", redis_target)
        rabbitmq_bind({"url": rabbit_direct, "exchange": exchange}, queue="outage").close()
        with running_receiver() as receiver:
            endpoint = endpoint_create(
                merchant=alice.merchant, url=receiver.url, event_types=["refund.processed"], actor="test"
            )
            env = {"EVENT_DESTINATION_NOTIFY_AFTER_SECONDS": str(int(OUTAGE_SECONDS / 2))}
            with (
                celery_worker(
                    queues="outbox,webhooks,webhook_retries",
                    concurrency=8,
                    pool="threads",
                    env=env,
                    log_path=tmp_path / "worker.log",
                ),
                publisher_process(log_path=tmp_path / "publisher.log", **env),
            ):
                producer = threading.Thread(
                    target=produce,
                    args=(alice.merchant.id,),
                    kwargs={"count": EVENTS, "seconds": OUTAGE_SECONDS + 10, "stop": stop},
                    daemon=True,
                )
                producer.start()
                time.sleep(3)
                private_redis.stop()
                private_nats.stop()
                proxy.cut()
                outage_started = time.monotonic()

                # Mid-outage: one more event reaches the healthy destination and the webhook
                # endpoint at once, and the down destinations show it.
                time.sleep(min(20.0, OUTAGE_SECONDS / 3))
                with transaction.atomic():
                    marker = event_record(
                        merchant_id=alice.merchant.id,
                        type="refund.processed",
                        object_type="refund",
                        object_id="rfnd_marker",
                        version=1,
                        data={"refund": {"id": "rfnd_marker", "version": 1}},
                    )
                wait_for(
                    lambda: EventDestination.objects.values_list("cursor_txid", flat=True).get(pk=healthy["id"])
                    >= marker.txid,
                    timeout=10,
                    message="the healthy destination to publish past the marker during the outage",
                )
                wait_for(
                    lambda: WebhookDelivery.objects.filter(
                        endpoint=endpoint, event=marker, status=DeliveryStatus.SUCCESS
                    ).exists(),
                    timeout=10,
                    message="the webhook of the marker to be delivered during the outage",
                )
                for destination in down.values():
                    shown = alice.client.get(f"/api/v1/event-destinations/{destination['id']}").json()
                    assert shown["status"] == "failing", (destination["type"], shown)
                    assert shown["lag"] > 0 and shown["last_error"], shown

                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
                private_redis.start()
                private_nats.start()
                proxy.restore()
                producer.join(timeout=120)
                assert not producer.is_alive()

                wait_for(
                    lambda: all(
                        alice.client.get(f"/api/v1/event-destinations/{d['id']}").json()["lag"] == 0
                        for d in [*down.values(), healthy]
                    ),
                    timeout=90,
                    interval=0.5,
                    message="every destination to catch up after the outage",
                )
        expected = list(
            Event.objects.filter(merchant=alice.merchant).order_by("txid", "seq").values_list("id", flat=True)
        )
        assert len(expected) >= EVENTS + 1
        notices = Event.objects.filter(type="event_destination.failing").values_list("object_id", flat=True)
        assert sorted(notices) == sorted(d["id"] for d in down.values())  # the merchant was told, once each
        assert first_seen(redis_ids(private_redis.url, stream)) == expected
        assert first_seen(redis_ids(redis_target["url"], redis_target["stream"])) == expected
        assert first_seen(rabbitmq_ids(rabbit_direct, "outage")) == expected
        assert first_seen(nats_ids(private_nats.url, prefix, expected=len(expected))) == expected
    finally:
        stop.set()
        proxy.stop()
        private_nats.stop()
        private_redis.stop()
