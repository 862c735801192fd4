"""Read Tender's events from NATS JetStream (``nats`` destination) with a durable pull
consumer: messages are acknowledged after handling, so a restarted consumer continues where
it stopped. JetStream already drops resends within its duplicate window (``Nats-Msg-Id`` is
the event id); the ``event-id`` header dedups beyond it, ``object-id`` + ``version`` skip
older versions of an object.

    pip install nats-py
    python nats_consumer.py nats://127.0.0.1:4222 tender.<merchant id> [durable name]
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import nats


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


async def consume(
    url: str,
    *,
    subject_prefix: str,
    durable: str,
    handle: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Handle messages until ``should_stop()`` (checked at least every second)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        subscription = await js.pull_subscribe(f"{subject_prefix}.>", durable=durable)
        dedup = Dedup()
        while not should_stop():
            try:
                messages = await subscription.fetch(100, timeout=1)
            except TimeoutError:  # nothing new within the second (nats-py raises either kind)
                continue
            for message in messages:
                headers = message.headers or {}
                if dedup.fresh(
                    event_id=headers["event-id"], object_id=headers["object-id"], version=int(headers["version"])
                ):
                    handle(json.loads(message.data))
                await message.ack()
    finally:
        await nc.close()


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    durable = sys.argv[3] if len(sys.argv) > 3 else "tender-consumer"
    asyncio.run(
        consume(url, subject_prefix=prefix, durable=durable, handle=lambda body: print(body["id"], body["event"]))
    )


if __name__ == "__main__":
    main()
