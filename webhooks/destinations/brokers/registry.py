"""The destination types: one adapter module each (the interface is in the package)."""

from __future__ import annotations

from types import ModuleType

from webhooks.destinations.brokers import nats, rabbitmq, redis_stream

ADAPTERS: dict[str, ModuleType] = {"redis_stream": redis_stream, "rabbitmq": rabbitmq, "nats": nats}


def adapter_for(destination_type: str) -> ModuleType:
    return ADAPTERS[destination_type]


def destination_types() -> list[str]:
    return list(ADAPTERS)
