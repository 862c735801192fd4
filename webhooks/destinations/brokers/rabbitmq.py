"""``rabbitmq``: publish to a durable topic exchange, publisher confirms per batch.

The exchange is declared (durable, topic) if missing; the routing key is the event type,
so a queue bound with ``payment.*`` gets payment events. Messages are persistent, carry
``message_id`` = event id and the headers ``event-id``, ``event-type``, ``object-id`` and
``version``. A batch is sent without waiting, then every confirm is awaited: the batch is
confirmed when the broker acked all of it (a nack or a timeout fails the whole batch, which
is sent again; consumers deduplicate by event id). Unroutable messages (no queue bound)
are dropped by RabbitMQ, as for any topic exchange: bind the queue before events flow, or
give the exchange an alternate exchange.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

import aio_pika
from django.conf import settings

from common.errors import InvalidInput
from webhooks.destinations.brokers import BrokerUrl, Message, PublishError, aio, broker_address

SCHEMES = ("amqp", "amqps")
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
DEFAULT_EXCHANGE = "tender.events"
_EXCHANGE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


def target_clean(target: dict[str, Any], *, merchant_id: str, destination_id: str) -> dict[str, Any]:
    exchange = target.get("exchange", DEFAULT_EXCHANGE)
    if not isinstance(exchange, str) or not _EXCHANGE.match(exchange) or exchange.startswith("amq."):
        raise InvalidInput(
            "target.exchange must be 1-255 of A-Z a-z 0-9 _ . : - and not start with 'amq.'",
            field="target.exchange",
            reason="invalid_target",
        )
    return {"exchange": exchange}


def url_check(broker: BrokerUrl) -> None:
    if "/" in broker.path:
        raise InvalidInput("the path of an amqp url is the vhost (%2F for /)", field="target.url", reason="invalid_url")


def _vhost(broker: BrokerUrl) -> str:
    return unquote(broker.path) if broker.path else "/"


class RabbitMqPublisher(aio.AsyncPublisher):
    def __init__(self, *, broker: BrokerUrl, target: dict[str, Any]) -> None:
        address = broker_address(broker)
        tls = broker.scheme == "amqps"
        self._exchange: Any = None
        self._open(
            self._connect(host=broker.host if tls else address, broker=broker, tls=tls, exchange=target["exchange"])
        )

    async def _connect(self, *, host: str, broker: BrokerUrl, tls: bool, exchange: str) -> None:
        self._connection = await aio_pika.connect(
            host=host,
            port=broker.port,
            login=broker.username or "guest",
            password=broker.password or "guest",
            virtualhost=_vhost(broker),
            ssl=tls,
            timeout=settings.EVENT_DESTINATION_CONNECT_TIMEOUT,
            client_properties={"connection_name": "tender-event-destination"},
        )
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)

    async def _publish(self, messages: Sequence[Message]) -> None:
        exchange = self._exchange
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        m.body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=m.event_id,
                        correlation_id=m.correlation_id,
                        type=m.type,
                        headers={
                            "event-id": m.event_id,
                            "event-type": m.type,
                            "object-id": m.object_id,
                            "version": m.version,
                        },
                    ),
                    routing_key=m.type,
                )
                for m in messages
            )
        )

    def _error(self, exc: BaseException) -> PublishError:
        return _publish_error(exc)


def _publish_error(exc: BaseException) -> PublishError:
    if isinstance(exc, PublishError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return PublishError("timeout", "the broker did not answer in time")
    if isinstance(exc, aio_pika.exceptions.DeliveryError):
        return PublishError("broker_refused", f"the broker nacked a message: {exc}")
    if isinstance(exc, aio_pika.exceptions.ProbableAuthenticationError):
        return PublishError("authentication_failed", str(exc))
    if isinstance(exc, aio_pika.exceptions.ChannelClosed):
        return PublishError("broker_refused", str(exc))
    if isinstance(exc, ConnectionError | OSError | aio_pika.exceptions.AMQPConnectionError):
        return PublishError("connection_error", str(exc) or type(exc).__name__)
    return PublishError("broker_error", f"{type(exc).__name__}: {exc}")


def publisher_open(*, broker: BrokerUrl, target: dict[str, Any]) -> RabbitMqPublisher:
    return RabbitMqPublisher(broker=broker, target=target)
