"""``redis_stream``: XADD to one stream per destination, a pipeline per batch.

Each message is an entry with the fields ``id``, ``type``, ``object_id``, ``version`` and
``body`` (the exact webhook body). The stream is trimmed with approximate ``MAXLEN`` so
trimming costs nothing extra. A batch is confirmed when the pipeline's replies are all in:
Redis answers an XADD only after applying it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from django.conf import settings

from common.errors import InvalidInput
from webhooks.destinations.brokers import BrokerUrl, Message, PublishError, aio, broker_address

SCHEMES = ("redis", "rediss")
DEFAULT_PORTS = {"redis": 6379, "rediss": 6380}
DEFAULT_MAXLEN = 1_000_000
_STREAM = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII, no spaces


def target_clean(target: dict[str, Any], *, merchant_id: str, destination_id: str) -> dict[str, Any]:
    stream = target.get("stream", f"tender:{merchant_id}")
    if not isinstance(stream, str) or not _STREAM.match(stream):
        raise InvalidInput(
            "target.stream must be 1-256 printable ASCII characters", field="target.stream", reason="invalid_target"
        )
    maxlen = target.get("maxlen", DEFAULT_MAXLEN)
    if not isinstance(maxlen, int) or isinstance(maxlen, bool) or not 1 <= maxlen <= 10**9:
        raise InvalidInput(
            "target.maxlen must be an integer from 1 to 1000000000", field="target.maxlen", reason="invalid_target"
        )
    return {"stream": stream, "maxlen": maxlen}


def url_check(broker: BrokerUrl) -> None:
    if broker.path and not broker.path.isdigit():
        raise InvalidInput("the path of a redis url is the database number", field="target.url", reason="invalid_url")


class RedisStreamPublisher(aio.AsyncPublisher):
    """Over redis-py's asyncio client, so connect and each whole pipeline run under the
    shared wall-clock deadlines: a socket timeout alone bounds one read, and a server that
    drips its replies could hold a batch for ever."""

    def __init__(self, *, broker: BrokerUrl, target: dict[str, Any]) -> None:
        self._stream = target["stream"]
        self._maxlen = int(target["maxlen"])
        self._open(self._connect(broker=broker, address=broker_address(broker)))

    async def _connect(self, *, broker: BrokerUrl, address: str) -> None:
        tls = broker.scheme == "rediss"
        self._connection = redis.asyncio.Redis(
            # With TLS the name is needed to verify the certificate; it was checked just now.
            host=broker.host if tls else address,
            port=broker.port,
            db=int(broker.path or 0),
            username=broker.username or None,
            password=broker.password or None,
            ssl=tls,
            socket_connect_timeout=settings.EVENT_DESTINATION_CONNECT_TIMEOUT,
            socket_timeout=settings.EVENT_DESTINATION_PUBLISH_TIMEOUT,
            retry_on_timeout=False,
        )
        await self._connection.ping()

    async def _publish(self, messages: Sequence[Message]) -> None:
        pipe = self._connection.pipeline(transaction=False)
        for m in messages:
            fields = {"id": m.event_id, "type": m.type, "object_id": m.object_id, "version": m.version, "body": m.body}
            pipe.xadd(self._stream, fields, maxlen=self._maxlen, approximate=True)
        await pipe.execute()

    def _error(self, exc: BaseException) -> PublishError:
        if isinstance(exc, PublishError):
            return exc
        if isinstance(exc, asyncio.TimeoutError | TimeoutError | redis.exceptions.TimeoutError):
            return PublishError("timeout", str(exc) or "the broker did not answer in time")
        if isinstance(exc, redis.exceptions.ConnectionError | OSError):
            return PublishError("connection_error", str(exc) or type(exc).__name__)
        if isinstance(exc, redis.exceptions.RedisError):
            return PublishError("broker_refused", str(exc))
        return PublishError("broker_error", f"{type(exc).__name__}: {exc}")


def publisher_open(*, broker: BrokerUrl, target: dict[str, Any]) -> RedisStreamPublisher:
    return RedisStreamPublisher(broker=broker, target=target)
