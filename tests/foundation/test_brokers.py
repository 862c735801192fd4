"""A real worker consumes our queues through either broker: Redis (default) or RabbitMQ."""

import socket

import pytest
from django.db import transaction

from config.celery import app
from payments.models import Event
from payments.outbox import event_record
from payments.outbox_tasks import outbox_dispatch
from tests.support.processes import celery_worker, wait_for


def _rabbitmq_url() -> str:
    return "amqp://guest:guest@127.0.0.1:5672//"


def _rabbitmq_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5672)) == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_worker_runs_outbox_dispatch_through_broker(broker, alice, settings):
    if broker == "rabbitmq":
        assert _rabbitmq_up(), "RabbitMQ must be running on 127.0.0.1:5672 (scripts/services-up.sh starts it)"
        url = _rabbitmq_url()
    else:
        url = settings.CELERY_BROKER_URL
    with transaction.atomic():
        event = event_record(
            merchant_id=alice.merchant.id, type="webhook.test", object_type="test", object_id="x", version=1, data={}
        )
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)
    with celery_worker(queues="outbox", concurrency=1, env={"CELERY_BROKER_URL": url}):
        with app.connection_for_write(url) as conn:
            outbox_dispatch.apply_async(connection=conn)
        wait_for(
            lambda: Event.objects.get(pk=event.pk).dispatched_at is not None,
            timeout=20,
            message=f"outbox dispatch through {broker}",
        )
