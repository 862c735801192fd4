"""``redis_stream``: XADD to one stream per destination, a pipeline per batch.

Each message is an entry with the fields ``id``, ``type``, ``object_id``, ``version`` and
``body`` (the exact webhook body). The stream is trimmed with approximate ``MAXLEN`` so
trimming costs nothing extra. A batch is confirmed when the pipeline's replies are all in:
Redis answers an XADD only after applying it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings

from payments.api.errors import BadRequest
from webhooks.destinations.brokers import BrokerUrl, Message, PublishError, broker_address

SCHEMES = ("redis", "rediss")
DEFAULT_PORTS = {"redis": 6379, "rediss": 6380}
DEFAULT_MAXLEN = 1_000_000
_STREAM = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII, no spaces


def target_clean(target: dict[str, Any], *, merchant_id: str, destination_id: str) -> dict[str, Any]:
    stream = target.get("stream", f"tender:{merchant_id}")
    if not isinstance(stream, str) or not _STREAM.match(stream):
        raise BadRequest(
            "target.stream must be 1-256 printable ASCII characters", field="target.stream", reason="invalid_target"
        )
    maxlen = target.get("maxlen", DEFAULT_MAXLEN)
    if not isinstance(maxlen, int) or isinstance(maxlen, bool) or not 1 <= maxlen <= 10**9:
        raise BadRequest(
            "target.maxlen must be an integer from 1 to 1000000000", field="target.maxlen", reason="invalid_target"
        )
    return {"stream": stream, "maxlen": maxlen}


def url_check(broker: BrokerUrl) -> None:
    if broker.path and not broker.path.isdigit():
        raise BadRequest("the path of a redis url is the database number", field="target.url", reason="invalid_url")


class RedisStreamPublisher:
    def __init__(self, *, broker: BrokerUrl, target: dict[str, Any]) -> None:
        address = broker_address(broker)
        tls = broker.scheme == "rediss"
        self._stream = target["stream"]
        self._maxlen = int(target["maxlen"])
        self._client = redis.Redis(
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

    def publish(self, messages: Sequence[Message]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for m in messages:
            fields = {"id": m.event_id, "type": m.type, "object_id": m.object_id, "version": m.version, "body": m.body}
            pipe.xadd(self._stream, fields, maxlen=self._maxlen, approximate=True)
        try:
            pipe.execute()
        except redis.exceptions.TimeoutError as exc:
            raise PublishError("timeout", str(exc)) from exc
        except redis.exceptions.ConnectionError as exc:
            raise PublishError("connection_error", str(exc)) from exc
        except redis.exceptions.RedisError as exc:
            raise PublishError("broker_refused", str(exc)) from exc

    def close(self) -> None:
        self._client.close()


def publisher_open(*, broker: BrokerUrl, target: dict[str, Any]) -> RedisStreamPublisher:
    return RedisStreamPublisher(broker=broker, target=target)
