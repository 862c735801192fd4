"""``nats``: JetStream publish to ``<subject_prefix>.<event type>``, acks per batch.

``Nats-Msg-Id`` is the event id, so JetStream's duplicate window (2 minutes by default)
drops a resend after a crash; the headers ``event-id``, ``event-type``, ``object-id`` and
``version`` travel too. The stream that captures ``<prefix>.>`` is used if one exists, else
one named ``target.stream`` (``TENDER_<destination id>``) is created with file storage.
A batch's publishes are sent without waiting, then every PubAck is awaited.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Sequence
from typing import Any

import nats
from django.conf import settings
from nats.js.errors import NotFoundError

from common.errors import InvalidInput
from webhooks.destinations.brokers import BrokerUrl, Message, PublishError, aio, broker_address

SCHEMES = ("nats", "tls")
DEFAULT_PORTS = {"nats": 4222, "tls": 4222}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def target_clean(target: dict[str, Any], *, merchant_id: str, destination_id: str) -> dict[str, Any]:
    prefix = target.get("subject_prefix", f"tender.{merchant_id}")
    if not isinstance(prefix, str) or len(prefix) > 200 or not all(_TOKEN.match(t) for t in prefix.split(".")):
        raise InvalidInput(
            "target.subject_prefix must be dot-separated tokens of A-Z a-z 0-9 _ - (no wildcards)",
            field="target.subject_prefix",
            reason="invalid_target",
        )
    stream = target.get("stream", f"TENDER_{destination_id}")
    if not isinstance(stream, str) or not _STREAM.match(stream):
        raise InvalidInput(
            "target.stream must be 1-64 of A-Z a-z 0-9 _ -", field="target.stream", reason="invalid_target"
        )
    return {"subject_prefix": prefix, "stream": stream}


def url_check(broker: BrokerUrl) -> None:
    if broker.path:
        raise InvalidInput("a nats url has no path", field="target.url", reason="invalid_url")


async def _ignore(*_args: Any) -> None:
    """nats-py reports connection errors to a callback as well as to the caller; the caller
    (the publisher) records them, so the callback stays quiet."""


class NatsPublisher(aio.AsyncPublisher):
    def __init__(self, *, broker: BrokerUrl, target: dict[str, Any]) -> None:
        address = broker_address(broker)
        self._prefix = target["subject_prefix"]
        self._js: Any = None
        self._open(self._connect(broker=broker, address=address, stream=target["stream"]))

    async def _connect(self, *, broker: BrokerUrl, address: str, stream: str) -> None:
        tls = broker.scheme == "tls"
        host = f"[{address}]" if ":" in address else address
        options: dict[str, Any] = {
            "servers": [f"nats://{host}:{broker.port}"],
            "connect_timeout": settings.EVENT_DESTINATION_CONNECT_TIMEOUT,
            "allow_reconnect": False,  # a broken connection fails the batch; we reconnect ourselves
            # One connect attempt: nats-py treats 0 as "keep trying" on the first connect
            # (a refused connection would then wait out our whole timeout).
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.1,
            "error_cb": _ignore,
            "disconnected_cb": _ignore,
            "closed_cb": _ignore,
            "name": "tender-event-destination",
        }
        if tls:  # connect to the checked address, verify the certificate for the name
            options.update(tls=ssl.create_default_context(), tls_hostname=broker.host)
        if broker.username and broker.password:
            options.update(user=broker.username, password=broker.password)
        elif broker.username:
            options["token"] = broker.username
        self._connection = await nats.connect(**options)
        self._js = self._connection.jetstream(timeout=settings.EVENT_DESTINATION_PUBLISH_TIMEOUT)
        try:
            await self._js.find_stream_name_by_subject(f"{self._prefix}.>")
        except NotFoundError:
            await self._js.add_stream(name=stream, subjects=[f"{self._prefix}.>"])

    async def _publish(self, messages: Sequence[Message]) -> None:
        js = self._js
        await asyncio.gather(
            *(
                js.publish(
                    f"{self._prefix}.{m.type}",
                    m.body,
                    headers={
                        "Nats-Msg-Id": m.event_id,
                        "event-id": m.event_id,
                        "event-type": m.type,
                        "object-id": m.object_id,
                        "version": str(m.version),
                    },
                )
                for m in messages
            )
        )

    def _error(self, exc: BaseException) -> PublishError:
        return _publish_error(exc)


def _publish_error(exc: BaseException) -> PublishError:
    if isinstance(exc, PublishError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | nats.errors.TimeoutError):
        return PublishError("timeout", "the broker did not answer in time")
    if isinstance(exc, nats.errors.NoServersError):
        return PublishError("connection_error", "the server refused or did not answer the connection")
    if isinstance(exc, nats.errors.NoRespondersError):
        return PublishError("no_stream", "no JetStream stream captures the subject")
    if isinstance(exc, nats.js.errors.APIError):
        return PublishError("broker_refused", str(exc))
    if isinstance(exc, ConnectionError | OSError | nats.errors.Error):
        return PublishError("connection_error", str(exc) or type(exc).__name__)
    return PublishError("broker_error", f"{type(exc).__name__}: {exc}")


def publisher_open(*, broker: BrokerUrl, target: dict[str, Any]) -> NatsPublisher:
    return NatsPublisher(broker=broker, target=target)
