"""``GET /health``: really queries PostgreSQL, pings Redis and looks for a live Celery
worker heartbeat. Each probe has a short timeout so the endpoint never hangs."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from common.redis import redis_client

# Written by each Celery worker's heartbeat step (config/celery.py), read by the probes below.
HEARTBEAT_KEY_PREFIX = "tender:worker-heartbeat:"


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "connected"
    except Exception:  # noqa: BLE001 - any failure means unusable
        connection.close_if_unusable_or_obsolete()
        return "disconnected"


def redis_and_worker_status() -> tuple[str, str]:
    """Redis state and worker state; workers are "unknown" when Redis can't be asked."""
    try:
        client = redis_client()
        client.ping()
        workers = list(client.scan_iter(match=HEARTBEAT_KEY_PREFIX + "*", count=100))
    except Exception:  # noqa: BLE001
        return "disconnected", "unknown"
    return "connected", ("running" if workers else "stopped")


def health(request: HttpRequest) -> JsonResponse:
    database = database_status()
    redis_state, worker = redis_and_worker_status()
    ok = database == "connected" and redis_state == "connected" and worker == "running"
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "redis": redis_state,
        "worker": worker,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }
    return JsonResponse(body, status=200 if ok else 503)
