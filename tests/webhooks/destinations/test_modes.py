"""Event destinations belong to one world: a destination made with a live key streams only
live events and one made with a test key only test events, and a key neither sees nor
changes the other world's destination (404). Real Redis streams, publisher in-process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis
from django.conf import settings
from django.db import transaction
from rest_framework.test import APIClient

from payments.models import ApiKey
from payments.outbox import event_record
from payments.services.api_keys import api_key_create
from tests.support.brokers import unique
from tests.webhooks.destinations.conftest import destination_add
from tests.webhooks.destinations.test_publishing import publish
from webhooks.destinations.models import EventDestination

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def streams():
    names = [unique("tender-test-mode-stream-") for _ in range(2)]
    yield names
    redis.Redis.from_url(settings.REDIS_URL).delete(*names)


def live_tenant(merchant) -> SimpleNamespace:
    issued = api_key_create(merchant=merchant, mode=ApiKey.Mode.LIVE)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key.key_id, HTTP_X_API_SECRET=issued.secret)
    return SimpleNamespace(client=client)


def commit_events(merchant, *, mode: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        with transaction.atomic():
            object_id = f"pay_{mode}{index:04d}"
            event = event_record(
                merchant_id=merchant.id,
                mode=mode,
                type="payment.created",
                object_type="payment",
                object_id=object_id,
                version=1,
                data={"payment": {"id": object_id, "version": 1, "amount": 50000}},
            )
            ids.append(event.id)
    return ids


def stream_event_ids(stream: str) -> list[str]:
    entries = redis.Redis.from_url(settings.REDIS_URL).xrange(stream)
    return [fields[b"id"].decode() for _, fields in entries]


def test_each_world_streams_only_its_own_events(alice, settings, streams):
    settings.SIMULATOR_ALLOW_LIVE_KEYS = True
    live = live_tenant(alice.merchant)
    live_destination = destination_add(live, "redis_stream", {"url": settings.REDIS_URL, "stream": streams[0]})
    test_destination = destination_add(alice, "redis_stream", {"url": settings.REDIS_URL, "stream": streams[1]})
    assert EventDestination.objects.get(pk=live_destination["id"]).mode == "live"
    assert EventDestination.objects.get(pk=test_destination["id"]).mode == "test"

    live_ids = commit_events(alice.merchant, mode="live", count=2)
    test_ids = commit_events(alice.merchant, mode="test", count=3)
    assert publish(live_destination, expect=2) == 2
    assert publish(test_destination, expect=3) == 3
    assert stream_event_ids(streams[0]) == live_ids
    assert stream_event_ids(streams[1]) == test_ids

    assert alice.client.get(f"/api/v1/event-destinations/{live_destination['id']}").status_code == 404
    assert live_destination["id"] not in alice.client.get("/api/v1/event-destinations").content.decode()
    assert test_destination["id"] not in live.client.get("/api/v1/event-destinations").content.decode()
    deleted = alice.client.delete(f"/api/v1/event-destinations/{live_destination['id']}")
    assert deleted.status_code == 404
    assert EventDestination.objects.filter(pk=live_destination["id"]).exists()


def test_the_answer_names_the_world_and_a_replay_cannot_anchor_in_the_other(alice, settings):
    settings.SIMULATOR_ALLOW_LIVE_KEYS = True
    live = live_tenant(alice.merchant)
    destination = live.client.post(
        "/api/v1/event-destinations", {"type": "nats", "target": {"url": "nats://127.0.0.1"}}, format="json"
    ).json()
    assert destination["mode"] == "live"
    with transaction.atomic():
        test_event = event_record(
            merchant_id=alice.merchant.id, type="payment.created", object_type="payment", object_id="p", version=1,
            data={},
        )  # fmt: skip
    answer = live.client.post(
        f"/api/v1/event-destinations/{destination['id']}/replay", {"after": test_event.id}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["reason"] == "invalid_cursor"
