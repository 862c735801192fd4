"""Read Tender's events from a Redis Stream with a consumer group (``redis_stream``
destination). At least once: an entry is acknowledged (XACK) only after it was handled,
and entries this consumer read before a crash but never acknowledged are read again first.
Duplicates (a resend after a Tender crash) are skipped by event id; an older version of an
object than one already handled is skipped too.

    pip install redis
    python redis_stream_consumer.py redis://127.0.0.1:6379/0 tender:<merchant id> [group] [consumer]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import redis


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


def consume(
    client: redis.Redis,
    *,
    stream: str,
    group: str,
    consumer: str,
    handle: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool] = lambda: False,
    block_ms: int = 1000,
) -> None:
    """Handle entries until ``should_stop()``; ``handle`` gets the webhook body as a dict."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    dedup = Dedup()
    start = "0"  # first our own unacknowledged entries (after a crash), then new ones
    while not should_stop():
        reply = client.xreadgroup(group, consumer, {stream: start}, count=100, block=block_ms)
        entries = reply[0][1] if reply else []
        if start == "0" and not entries:
            start = ">"
            continue
        for entry_id, fields in entries:
            event_id, object_id = fields[b"id"].decode(), fields[b"object_id"].decode()
            if dedup.fresh(event_id=event_id, object_id=object_id, version=int(fields[b"version"])):
                handle(json.loads(fields[b"body"]))
            client.xack(stream, group, entry_id)


def main() -> None:
    url, stream = sys.argv[1], sys.argv[2]
    group = sys.argv[3] if len(sys.argv) > 3 else "tender-consumers"
    name = sys.argv[4] if len(sys.argv) > 4 else "consumer-1"
    consume(
        redis.Redis.from_url(url),
        stream=stream,
        group=group,
        consumer=name,
        handle=lambda body: print(body["id"], body["event"], flush=True),
    )


if __name__ == "__main__":
    main()
