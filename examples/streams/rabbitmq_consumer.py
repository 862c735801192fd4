"""Read Tender's events from RabbitMQ (``rabbitmq`` destination): a durable queue bound to
Tender's topic exchange (routing key = event type, so ``payment.*`` or ``#``), manual
acknowledgements after handling, duplicates skipped by the ``event-id`` header and older
versions of an object by ``object-id`` + ``version``.

Declare and bind the queue before events flow: a topic exchange drops messages no queue
is bound for.

    pip install pika
    python rabbitmq_consumer.py amqp://guest:guest@127.0.0.1:5672/%2F tender.events my-queue '#'
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pika


class Dedup:
    """Skip events already handled (by id) and versions older than one handled (per object).
    Keep this state in your database, next to what handling writes, in production."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.versions: dict[str, int] = {}

    def fresh(self, *, event_id: str, object_id: str, version: int) -> bool:
        if event_id in self.seen or version < self.versions.get(object_id, 0):
            return False
        self.seen.add(event_id)
        self.versions[object_id] = version
        return True


def queue_bind(channel: Any, *, exchange: str, queue: str, binding: str = "#") -> None:
    """Declare the (durable) exchange and queue and bind them; safe to repeat."""
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    channel.queue_declare(queue=queue, durable=True)
    channel.queue_bind(queue=queue, exchange=exchange, routing_key=binding)


def consume(
    channel: Any,
    *,
    queue: str,
    handle: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Handle messages until ``should_stop()`` (checked at least every second)."""
    dedup = Dedup()
    channel.basic_qos(prefetch_count=100)
    for method, properties, body in channel.consume(queue, inactivity_timeout=1):
        if should_stop():
            break
        if method is None:
            continue  # no message within a second: look at should_stop again
        headers = properties.headers or {}
        if dedup.fresh(event_id=headers["event-id"], object_id=headers["object-id"], version=int(headers["version"])):
            handle(json.loads(body))
        channel.basic_ack(method.delivery_tag)
    channel.cancel()


def main() -> None:
    url, exchange, queue = sys.argv[1], sys.argv[2], sys.argv[3]
    binding = sys.argv[4] if len(sys.argv) > 4 else "#"
    channel = pika.BlockingConnection(pika.URLParameters(url)).channel()
    queue_bind(channel, exchange=exchange, queue=queue, binding=binding)
    consume(channel, queue=queue, handle=lambda body: print(body["id"], body["event"], flush=True))


if __name__ == "__main__":
    main()
