"""/api/v1/event-destinations: create, list, get, change, delete, replay; validation, SSRF
policy at registration, credentials kept out of every answer, other merchants see 404."""

from __future__ import annotations

import pytest
from django.db import connection

from payments.encryption import decrypt
from payments.outbox import event_record
from webhooks.destinations.models import EventDestination
from webhooks.destinations.services import MAX_DESTINATIONS_PER_MERCHANT

pytestmark = pytest.mark.django_db

URL = "/api/v1/event-destinations"


def create(tenant, body):
    return tenant.client.post(URL, body, format="json")


def test_create_each_type_masks_credentials_and_fills_defaults(alice):
    redis_answer = create(
        alice, {"type": "redis_stream", "target": {"url": "redis://:s3cret@127.0.0.1:6379/5"}, "description": "ops"}
    )
    assert redis_answer.status_code == 201
    body = redis_answer.json()
    assert body["id"].startswith("dest_")
    assert body["type"] == "redis_stream"
    assert body["target"] == {
        "url": "redis://:****@127.0.0.1:6379/5",
        "stream": f"tender:{alice.merchant.id}",
        "maxlen": 1_000_000,
    }
    assert body["event_types"] == ["*"]
    assert (body["enabled"], body["status"], body["lag"], body["last_error"]) == (True, "active", 0, None)
    assert "s3cret" not in redis_answer.content.decode()
    stored = EventDestination.objects.get(pk=body["id"])
    assert stored.target["url"] == "redis://127.0.0.1:6379/5"
    assert stored.credentials == ":s3cret"
    with connection.cursor() as cursor:  # encrypted at rest, as webhook secrets are
        cursor.execute("SELECT credentials FROM event_destinations WHERE id = %s", [body["id"]])
        raw = cursor.fetchone()[0]
    assert "s3cret" not in raw
    assert decrypt(raw) == ":s3cret"

    rabbit = create(alice, {"type": "rabbitmq", "target": {"url": "amqp://tender:p%40ss@127.0.0.1/orders"}}).json()
    assert rabbit["target"] == {"url": "amqp://tender:****@127.0.0.1:5672/orders", "exchange": "tender.events"}
    assert EventDestination.objects.get(pk=rabbit["id"]).credentials == "tender:p%40ss"

    nats = create(
        alice, {"type": "nats", "target": {"url": "nats://127.0.0.1"}, "event_types": ["payment.*", "refund.processed"]}
    ).json()
    assert nats["target"] == {
        "url": "nats://127.0.0.1:4222",
        "subject_prefix": f"tender.{alice.merchant.id}",
        "stream": f"TENDER_{nats['id']}",
    }
    assert nats["event_types"] == ["payment.*", "refund.processed"]

    listed = alice.client.get(URL).json()
    assert [d["id"] for d in listed["data"]] == [body["id"], rabbit["id"], nats["id"]]
    assert listed["total"] == 3
    assert "s3cret" not in alice.client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"type": "kafka", "target": {"url": "kafka://127.0.0.1"}}, "type", "invalid_destination_type"),
        ({"type": "redis_stream", "target": {}}, "target.url", "missing_url"),
        ({"type": "redis_stream", "target": {"url": "http://127.0.0.1"}}, "target.url", "unsupported_scheme"),
        ({"type": "rabbitmq", "target": {"url": "redis://127.0.0.1"}}, "target.url", "unsupported_scheme"),
        ({"type": "redis_stream", "target": {"url": "redis://127.0.0.1/x"}}, "target.url", "invalid_url"),
        ({"type": "redis_stream", "target": {"url": "redis://169.254.169.254"}}, "target.url", "forbidden_address"),
        ({"type": "nats", "target": {"url": "nats://0177.0.0.1"}}, "target.url", "non_canonical_ip"),
        (
            {"type": "redis_stream", "target": {"url": "redis://127.0.0.1", "stream": "a b"}},
            "target.stream",
            "invalid_target",
        ),
        (
            {"type": "redis_stream", "target": {"url": "redis://127.0.0.1", "maxlen": 0}},
            "target.maxlen",
            "invalid_target",
        ),
        (
            {"type": "rabbitmq", "target": {"url": "amqp://127.0.0.1", "exchange": "amq.topic"}},
            "target.exchange",
            "invalid_target",
        ),
        (
            {"type": "nats", "target": {"url": "nats://127.0.0.1", "subject_prefix": "a.>"}},
            "target.subject_prefix",
            "invalid_target",
        ),
        ({"type": "nats", "target": {"url": "nats://127.0.0.1", "topic": "x"}}, "target", "invalid_target"),
        (
            {"type": "nats", "target": {"url": "nats://127.0.0.1"}, "event_types": ["nope.*"]},
            "event_types",
            "invalid_event_type",
        ),
    ],
)
def test_invalid_registrations_are_400_and_create_nothing(alice, body, field, reason):
    response = create(alice, body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (error["field"], error["reason"]) == (field, reason)
    assert not EventDestination.objects.exists()


def test_private_addresses_refused_when_the_ssrf_policy_says_so(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = create(alice, {"type": "redis_stream", "target": {"url": "redis://127.0.0.1:6379/0"}})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "forbidden_address"


def test_patch_changes_fields_keeps_credentials_and_delete_removes(alice):
    created = create(alice, {"type": "redis_stream", "target": {"url": "redis://u:pw@127.0.0.1:6379/0"}}).json()
    patched = alice.client.patch(
        f"{URL}/{created['id']}",
        {"target": {"stream": "orders"}, "event_types": ["refund.*"], "description": "refunds", "enabled": False},
        format="json",
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["target"] == {"url": "redis://u:****@127.0.0.1:6379/0", "stream": "orders", "maxlen": 1_000_000}
    assert (body["event_types"], body["description"], body["enabled"], body["status"]) == (
        ["refund.*"],
        "refunds",
        False,
        "disabled",
    )
    assert EventDestination.objects.get(pk=created["id"]).credentials == "u:pw"
    bad = alice.client.patch(f"{URL}/{created['id']}", {"target": {"url": "redis://10.0.0.1:1/0:"}}, format="json")
    assert bad.status_code == 400
    assert alice.client.get(f"{URL}/{created['id']}").json()["target"]["stream"] == "orders"
    assert alice.client.delete(f"{URL}/{created['id']}").status_code == 204
    assert alice.client.get(f"{URL}/{created['id']}").status_code == 404


def test_other_merchant_gets_404_and_changes_nothing(alice, bob):
    created = create(alice, {"type": "nats", "target": {"url": "nats://127.0.0.1"}}).json()
    path = f"{URL}/{created['id']}"
    assert bob.client.get(path).status_code == 404
    assert bob.client.patch(path, {"enabled": False}, format="json").status_code == 404
    assert bob.client.post(f"{path}/replay", {"since": "2020-01-01T00:00:00Z"}, format="json").status_code == 404
    assert bob.client.delete(path).status_code == 404
    assert bob.client.get(URL).json() == {"data": [], "total": 0}
    assert EventDestination.objects.get(pk=created["id"]).enabled is True


def test_replay_validates_its_position(alice, bob):
    created = create(alice, {"type": "nats", "target": {"url": "nats://127.0.0.1"}}).json()
    path = f"{URL}/{created['id']}/replay"
    bobs_event = event_record(
        merchant_id=bob.merchant.id, type="payment.created", object_type="payment", object_id="p", version=1, data={}
    )
    before = EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=created["id"])
    for body, reason in [
        ({}, "invalid_replay"),
        ({"after": bobs_event.id, "since": "2020-01-01T00:00:00Z"}, "invalid_replay"),
        ({"after": bobs_event.id}, "invalid_cursor"),
        ({"after": "evt_nope"}, "invalid_cursor"),
    ]:
        response = alice.client.post(path, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["reason"] == reason
    assert alice.client.post(path, {"since": "yesterday"}, format="json").status_code == 400
    assert EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=created["id"]) == before


def test_at_most_sixteen_destinations_per_merchant(alice):
    for _ in range(MAX_DESTINATIONS_PER_MERCHANT):
        assert create(alice, {"type": "nats", "target": {"url": "nats://127.0.0.1"}}).status_code == 201
    response = create(alice, {"type": "nats", "target": {"url": "nats://127.0.0.1"}})
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "too_many_destinations"
