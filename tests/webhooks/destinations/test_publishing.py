"""The publisher against the real brokers, in the test process: events in log order with
their id/type/object/version, the exact webhook body, replay, filters, the gap-free
visibility rule, one publisher per destination, and a down or forbidden broker holding
only its own destination (with backoff, status, lag, last_error and the merchant told)."""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
import redis
from django.db import connection

from payments.models import Event
from tests.support.dripping import dripping_server
from tests.support.processes import free_port
from tests.webhooks.destinations.conftest import (
    destination_add,
    events_commit,
    nats_read,
    rabbitmq_bind,
    rabbitmq_read,
    redis_read,
    versions_by_object,
)
from webhooks.destinations.brokers import BrokerUrl, Message, PublishError, redis_stream
from webhooks.destinations.models import EventDestination
from webhooks.destinations.publishing import destination_publish
from webhooks.signing import body_encode, payload_build

pytestmark = pytest.mark.django_db(transaction=True)


def publish(destination: dict, *, expect: int | None = None, time_budget: float = 2, timeout: float = 30) -> int:
    """Run the publisher until it published ``expect`` events (or once, without ``expect``).
    It may take several runs: the visibility rule holds events back while any transaction
    of the PostgreSQL cluster older than them is open, and on this shared machine other
    test runs' transactions are (the publisher waits, then leaves a continuation)."""
    total = destination_publish(destination_id=destination["id"], time_budget=time_budget).published
    end = time.monotonic() + timeout
    while expect is not None and total < expect and time.monotonic() < end:
        total += destination_publish(destination_id=destination["id"], time_budget=time_budget).published
    return total


def webhook_body(event: Event) -> bytes:
    return body_encode(
        payload_build(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)
    )


def test_redis_stream_entries_carry_ids_versions_and_the_exact_webhook_body(alice, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target)
    events = events_commit(alice.merchant, objects=3, versions=3)
    assert publish(destination, expect=9) == 9
    entries = redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])
    assert [
        (f[b"id"].decode(), f[b"type"].decode(), f[b"object_id"].decode(), int(f[b"version"])) for _, f in entries
    ] == [(e.id, e.type, e.object_id, e.version) for e in events]
    assert [f[b"body"] for _, f in entries] == [webhook_body(Event.objects.get(pk=e.pk)) for e in events]
    bodies = redis_read(redis_target, count=9)
    assert versions_by_object(bodies) == {f"pay_{i:04d}": [1, 2, 3] for i in range(3)}
    after = alice.client.get(f"/api/v1/event-destinations/{destination['id']}").json()
    assert (after["status"], after["lag"], after["published_total"]) == ("active", 0, 9)


def test_rabbitmq_queue_bound_to_the_exchange_gets_events_in_version_order(alice, rabbitmq_target):
    destination = destination_add(alice, "rabbitmq", rabbitmq_target)
    consumer = rabbitmq_bind(rabbitmq_target, queue="payments", binding="payment.*")
    try:
        events = events_commit(alice.merchant, objects=4, versions=3)
        assert publish(destination, expect=12) == 12
        bodies = rabbitmq_read(consumer, queue="payments", count=12)
    finally:
        consumer.close()
    assert [b["id"] for b in bodies] == [e.id for e in events]
    assert versions_by_object(bodies) == {f"pay_{i:04d}": [1, 2, 3] for i in range(4)}


def test_nats_durable_consumer_gets_events_and_jetstream_drops_a_replays_resends(alice, nats_target):
    destination = destination_add(alice, "nats", nats_target)
    events = events_commit(alice.merchant, objects=2, versions=3)
    assert publish(destination, expect=6) == 6
    bodies = nats_read(nats_target, count=6)
    assert [b["id"] for b in bodies] == [e.id for e in events]
    assert versions_by_object(bodies) == {"pay_0000": [1, 2, 3], "pay_0001": [1, 2, 3]}
    # A resend (here: a replay) inside JetStream's duplicate window is removed by Nats-Msg-Id.
    replayed = alice.client.post(
        f"/api/v1/event-destinations/{destination['id']}/replay", {"after": events[1].id}, format="json"
    )
    assert replayed.json()["lag"] == 4
    assert publish(destination, expect=4) == 4
    assert nats_read(nats_target, count=1, timeout=1.5) == []


def test_replay_after_an_event_or_since_a_time_resends_from_there(alice, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target)
    events = events_commit(alice.merchant, objects=2, versions=2)
    assert publish(destination, expect=4) == 4
    path = f"/api/v1/event-destinations/{destination['id']}/replay"
    answer = alice.client.post(path, {"after": events[0].id}, format="json")
    assert answer.status_code == 200
    assert answer.json()["lag"] == 3
    assert publish(destination, expect=3) == 3
    since = Event.objects.get(pk=events[2].pk).created_at.isoformat()
    assert alice.client.post(path, {"since": since}, format="json").json()["lag"] == 2
    assert publish(destination, expect=2) == 2
    ids = [f[b"id"].decode() for _, f in redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])]
    order = [e.id for e in events]
    assert ids == order + order[1:] + order[2:]


def test_event_type_filter_and_the_cursor_skips_what_it_does_not_match(alice, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target, event_types=["payment.success"])
    events = events_commit(alice.merchant, objects=3, versions=3)
    assert publish(destination, expect=3) == 3
    types = {f[b"type"] for _, f in redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])}
    assert types == {b"payment.success"}
    stored = EventDestination.objects.get(pk=destination["id"])
    assert (stored.cursor_txid, stored.cursor_seq) >= (events[-1].txid, events[-1].seq)


def test_an_event_of_an_older_open_transaction_is_never_skipped(alice, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target)
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as other:
        other.execute(  # an older transaction takes its id first and commits its event last
            "INSERT INTO events (id, merchant_id, type, object_type, object_id, version, data, created_at) "
            "VALUES ('evt_older_transaction', %s, 'payment.created', 'payment', 'pay_old', 1, '{}', now())",
            [alice.merchant.id],
        )
        newer = events_commit(alice.merchant, objects=1, versions=1)
        assert publish(destination, time_budget=0.3) == 0  # held back, not skipped
        other.commit()
    assert publish(destination, expect=2) == 2
    ids = [f[b"id"] for _, f in redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])]
    assert ids == [b"evt_older_transaction", newer[0].id.encode()]


def test_an_open_transaction_in_another_database_holds_nothing_back(alice, redis_target):
    """The horizon leaves out transactions known to run in other databases of the cluster
    (payments/selectors/events.py): only this database's can still write an event."""
    destination = destination_add(alice, "redis_stream", redis_target)
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname="postgres"
    ) as other:
        other.execute("SELECT pg_current_xact_id()")  # an older transaction with an id, elsewhere
        events = events_commit(alice.merchant, objects=1, versions=2)
        assert publish(destination, time_budget=5) == 2
        listed = alice.client.get("/api/v1/events").json()
        assert {e["id"] for e in listed["data"]} >= {e.id for e in events}


def test_a_held_lease_keeps_a_second_publisher_out(alice, redis_target):
    destination = destination_add(alice, "redis_stream", redis_target)
    events_commit(alice.merchant, objects=1, versions=2)
    EventDestination.objects.filter(pk=destination["id"]).update(
        locked_until="2999-01-01T00:00:00Z", lease_token="00000000-0000-0000-0000-000000000001"
    )
    assert publish(destination, expect=0) == 0
    assert redis.Redis.from_url(redis_target["url"]).exists(redis_target["stream"]) == 0


def test_a_down_broker_holds_only_its_destination_backs_off_and_the_merchant_is_told(alice, redis_target, settings):
    settings.EVENT_DESTINATION_NOTIFY_AFTER_SECONDS = 0
    settings.EVENT_DESTINATION_RETRY_DELAYS = [60]  # the backoff is surely still pending below
    down = destination_add(alice, "redis_stream", {"url": f"redis://127.0.0.1:{free_port()}/0", "stream": "x"})
    healthy = destination_add(alice, "redis_stream", redis_target)
    events_commit(alice.merchant, objects=2, versions=2)
    assert publish(down) == 0
    assert publish(healthy, expect=5) == 5  # the 4 events and the notice about the other destination
    kinds = [f[b"type"] for _, f in redis.Redis.from_url(redis_target["url"]).xrange(redis_target["stream"])]
    assert kinds[-1] == b"event_destination.failing"
    shown = alice.client.get(f"/api/v1/event-destinations/{down['id']}").json()
    assert (shown["status"], shown["lag"]) == ("failing", 4 + 1)  # + the failing notice itself
    assert shown["last_error"].startswith("connection_error")
    stored = EventDestination.objects.get(pk=down["id"])
    assert stored.consecutive_failures == 1 and stored.next_attempt_at is not None
    assert publish(down) == 0  # backing off: not even tried
    assert EventDestination.objects.get(pk=down["id"]).consecutive_failures == 1
    notices = Event.objects.filter(type="event_destination.failing")
    assert [(n.object_id, n.data["event_destination"]["status"]) for n in notices] == [(down["id"], "failing")]
    EventDestination.objects.filter(pk=down["id"]).update(next_attempt_at=None)
    assert publish(down) == 0
    assert Event.objects.filter(type="event_destination.failing").count() == 1  # once per failing run
    assert alice.client.get(f"/api/v1/event-destinations/{healthy['id']}").json()["status"] == "active"


def test_the_ssrf_policy_is_checked_again_at_connect(alice, redis_target, settings):
    destination = destination_add(alice, "redis_stream", redis_target)
    events_commit(alice.merchant, objects=1, versions=1)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert publish(destination, expect=0) == 0
    assert EventDestination.objects.get(pk=destination["id"]).last_error.startswith("forbidden_address")
    assert redis.Redis.from_url(redis_target["url"]).exists(redis_target["stream"]) == 0


def test_a_refusing_broker_is_failing_with_its_reason_and_the_cursor_holds(alice, rabbitmq_target):
    import pika

    with pika.BlockingConnection(pika.URLParameters(rabbitmq_target["url"])) as direct:
        direct.channel().exchange_declare(rabbitmq_target["exchange"], exchange_type="direct", durable=True)
    destination = destination_add(alice, "rabbitmq", rabbitmq_target)  # wants a topic exchange of that name
    events_commit(alice.merchant, objects=1, versions=2)
    before = EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=destination["id"])
    assert publish(destination) == 0
    shown = alice.client.get(f"/api/v1/event-destinations/{destination['id']}").json()
    assert (shown["status"], shown["lag"]) == ("failing", 2)
    assert shown["last_error"].startswith("broker_refused") and "PRECONDITION_FAILED" in shown["last_error"]
    assert EventDestination.objects.values_list("cursor_txid", "cursor_seq").get(pk=destination["id"]) == before


def _redis_handshake(conn: socket.socket) -> bool:
    """Answer +OK to each command redis-py sends on connect, up to the batch's first XADD."""
    data = b""
    while b"XADD" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
        if b"XADD" not in data:
            conn.sendall(b"+OK\r\n" * data.count(b"*"))
            data = b""
    return True


def test_a_redis_that_drips_its_replies_fails_the_batch_at_the_deadline(settings):
    settings.EVENT_DESTINATION_CONNECT_TIMEOUT = 1
    settings.EVENT_DESTINATION_PUBLISH_TIMEOUT = 1.5  # each dripped byte comes within 0.1 s
    with dripping_server(prelude=_redis_handshake, drip=b"+") as server:  # a reply that never ends
        broker = BrokerUrl(scheme="redis", host="127.0.0.1", port=server.port, path="", username="", password="")
        publisher = redis_stream.publisher_open(broker=broker, target={"stream": "s", "maxlen": 10})
        message = Message(event_id="evt_1", type="payment.success", object_id="pay_1", version=1, body=b"{}")
        started = time.monotonic()
        with pytest.raises(PublishError) as failed:
            publisher.publish([message] * 3)
        assert failed.value.error_class == "timeout"
        assert time.monotonic() - started < 1.5 + 1.0  # the deadline, not the drip, ended it
        with pytest.raises(PublishError):  # the cut connection is never reused
            publisher.publish([message])


def test_the_publishers_packed_batch_is_what_redis_py_would_send():
    messages = [
        Message(event_id="evt_1", type="payment.success", object_id="pay_1", version=3, body=b'{"a":"\xc3\xa9"}'),
        Message(event_id="evt_2", type="refund.created", object_id="ref_é", version=12, body=b"{}"),
    ]
    head = ("XADD", "tender:m", "MAXLEN", "~", 500, "*")
    expected = redis.Connection().pack_commands(
        [
            (*head, "id", m.event_id, "type", m.type, "object_id", m.object_id, "version", m.version, "body", m.body)
            for m in messages
        ]
    )
    assert redis_stream.xadd_pack(stream="tender:m", maxlen=500, messages=messages) == b"".join(expected)
