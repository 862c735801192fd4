"""Provider submission is driven by the committed outbox, and the outbox nudge is gated.

The API process publishes no Celery message per payment: the dispatcher turns each batch
of ``payment.created`` / ``refund.created`` events into one batch task on the real broker,
each item under its request's correlation id. A nudge publishes a dispatch only when none
is queued, and a nudge held back by a flag whose dispatch message was lost still goes out.
"""

from __future__ import annotations

import base64
import json

import pytest
import redis
from django.conf import settings

from payments.models import Event
from payments.outbox import (
    DISPATCH_QUEUED_KEY,
    _nudger,
    _publish_nudge,
    outbox_dispatch_all,
    register_consumer,
)
from tests.payments.factories import SuccessfulPaymentFactory
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker():
    """The test broker's Redis database (queues are Redis lists), emptied around the test;
    the app Redis (where the queued-dispatch flag lives) too."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app_redis = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    app_redis.flushdb()
    yield client
    # Let this test's held-back nudges go out now, not in the middle of the next test.
    wait_for(lambda: not _nudger.pending(), timeout=10, message="the nudger to settle")
    client.flushdb()
    app_redis.flushdb()


def queued_tasks(broker, queue: str) -> list[tuple[str, list]]:
    """(task name, positional args) of every message waiting on ``queue``, oldest first
    (kombu LPUSHes and consumers pop from the other end)."""
    tasks = []
    for raw in reversed(broker.lrange(queue, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def create_payment(tenant, correlation_id: str) -> str:
    response = tenant.client.post(
        "/api/v1/payments",
        {"amount": 50000, "currency": "INR", "method": "upi", "vpa": "success@upi"},
        format="json",
        HTTP_X_CORRELATION_ID=correlation_id,
    )
    assert response.status_code == 201
    return response.json()["id"]


def test_dispatcher_queues_created_payments_and_refunds_in_one_batch_each(alice, broker):
    first, second = create_payment(alice, "corr-1"), create_payment(alice, "corr-2")
    paid = SuccessfulPaymentFactory(merchant=alice.merchant, order__merchant=alice.merchant)
    refund = alice.client.post(
        f"/api/v1/payments/{paid.id}/refunds", {"amount": 100}, format="json", HTTP_X_CORRELATION_ID="corr-r"
    )
    assert refund.status_code == 201
    assert queued_tasks(broker, "payments") == []  # the API published nothing per object

    outbox_dispatch_all()

    assert sorted(queued_tasks(broker, "payments")) == [
        ("payments.tasks.payment_process_batch", [[[first, "corr-1"], [second, "corr-2"]]]),
        ("payments.tasks.refund_process_batch", [[[refund.json()["id"], "corr-r"]]]),
    ]
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


def test_a_failed_dispatch_queues_nothing_and_leaves_the_events_for_the_next(alice, broker):
    payment_id = create_payment(alice, "corr-3")

    def broken_consumer(events):
        raise RuntimeError("consumer down")

    register_consumer("broken-for-test", broken_consumer)
    try:
        with pytest.raises(RuntimeError):
            outbox_dispatch_all()
    finally:
        from payments import outbox

        outbox.outbox_consumers.unregister("broken-for-test")
    assert queued_tasks(broker, "payments") == []
    assert Event.objects.get(object_id=payment_id).dispatched_at is None

    outbox_dispatch_all()
    assert queued_tasks(broker, "payments") == [("payments.tasks.payment_process_batch", [[[payment_id, "corr-3"]]])]


def test_a_nudge_publishes_a_dispatch_only_when_none_is_queued(broker):
    app_redis = redis.Redis.from_url(settings.REDIS_URL)
    assert _publish_nudge() is True
    assert app_redis.exists(DISPATCH_QUEUED_KEY)
    assert _publish_nudge() is False  # that dispatch has not started: it will see later commits
    assert [name for name, _ in queued_tasks(broker, "outbox")] == ["payments.outbox_tasks.outbox_dispatch"]

    outbox_dispatch_all()  # a dispatch clears the flag before it drains
    assert not app_redis.exists(DISPATCH_QUEUED_KEY)
    assert _publish_nudge() is True
    assert len(queued_tasks(broker, "outbox")) == 2


def test_a_nudge_held_back_by_a_lost_dispatch_goes_out_after_the_flag_expires(alice, broker):
    app_redis = redis.Redis.from_url(settings.REDIS_URL)
    app_redis.set(DISPATCH_QUEUED_KEY, "1", ex=2)  # its dispatch message was lost (never queued)

    create_payment(alice, "corr-4")  # commits, and its nudge is held back by the flag

    wait_for(lambda: queued_tasks(broker, "outbox"), timeout=10, message="the retried nudge")
    assert [name for name, _ in queued_tasks(broker, "outbox")] == ["payments.outbox_tasks.outbox_dispatch"]


def test_a_large_dispatch_batch_is_spread_over_several_tasks(alice, broker):
    from payments.services.submission import SUBMISSIONS_PER_TASK

    created = [create_payment(alice, f"corr-{n}") for n in range(SUBMISSIONS_PER_TASK + 3)]

    outbox_dispatch_all()

    tasks = queued_tasks(broker, "payments")
    assert [len(args[0]) for _, args in tasks] == [SUBMISSIONS_PER_TASK, 3]
    assert [item[0] for _, args in tasks for item in args[0]] == created  # each once, in commit order
