"""/health really probes PostgreSQL, Redis and a live worker heartbeat."""

import time

import pytest
from django.test import override_settings

from config.celery import HEARTBEAT_KEY_PREFIX
from tests.support.processes import celery_worker, wait_for


@pytest.mark.django_db
def test_degraded_without_worker(client, redis_client):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "connected"
    assert body["redis"] == "connected"
    assert body["worker"] == "stopped"
    assert body["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_ok_with_fresh_heartbeat(client, redis_client):
    redis_client.set(HEARTBEAT_KEY_PREFIX + "w1@host", str(time.time()), ex=30)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["worker"] == "running"


@pytest.mark.django_db
def test_redis_down_is_reported_quickly(client):
    started = time.monotonic()
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/health")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json()["redis"] == "disconnected"
    assert response.json()["database"] == "connected"


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_real_worker_heartbeat_appears_and_goes(client, redis_client):
    with celery_worker(concurrency=1, env={"WORKER_HEARTBEAT_INTERVAL": "1", "WORKER_HEARTBEAT_TTL": "3"}):
        response = client.get("/health")
        assert response.status_code == 200, response.json()
        assert response.json()["worker"] == "running"
    wait_for(lambda: client.get("/health").json()["worker"] == "stopped", timeout=10, message="worker stopped")
    assert client.get("/health").status_code == 503
