"""The application's Redis client (``REDIS_URL``: heartbeats, the outbox's queued-dispatch
flag, health probes). One client, so one connection pool, per process and URL, with short
timeouts so a Redis outage never hangs a caller; redis-py reconnects by itself."""

from __future__ import annotations

from typing import Any

_clients: dict[str, Any] = {}


def redis_client() -> Any:
    import redis
    from django.conf import settings

    client = _clients.get(settings.REDIS_URL)
    if client is None:
        client = _clients[settings.REDIS_URL] = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
    return client
