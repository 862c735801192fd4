"""Redis lost and stopped: a worker and Beat on a private redis-server. Every nudge the
test process sends goes elsewhere (as if Redis had dropped it), so all work must be
re-derived from PostgreSQL by Beat's sweeps; then that Redis is stopped while events are
written, and started again: every delivery still ends ``success``.

The outage lasts WEBHOOK_TEST_REDIS_OUTAGE_SECONDS (default 10; set 60 for the full minute
of the issue, e.g. ``WEBHOOK_TEST_REDIS_OUTAGE_SECONDS=60 pytest tests/webhooks/test_redis_outage.py``).
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import ExitStack

import pytest

from tests.support.processes import free_port, wait_for
from tests.webhooks.conftest import celery_process, payment_make, throwaway_redis
from tests.webhooks.receiver import running_receiver
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = float(os.environ.get("WEBHOOK_TEST_REDIS_OUTAGE_SECONDS", "10"))


def _beat_jobs() -> None:
    """The Beat rows the data migrations seed, at 1 s (the transactional test flushed them)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    for name, task in [
        ("test: outbox sweep", "payments.outbox_tasks.outbox_sweep"),
        ("test: webhook sweep", "webhooks.tasks.webhook_sweep"),
    ]:
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": every})


def _successes() -> int:
    return WebhookDelivery.objects.filter(status="success").count()


@pytest.mark.parametrize("workers", [["worker"], ["outbox", "webhooks"]], ids=["one", "procfile"])
def test_deliveries_survive_lost_messages_and_a_stopped_redis(alice, tmp_path, workers):
    """``one``: a single prefork worker on every webhook queue; ``procfile``: the outbox
    dispatcher plus the dedicated threads-pool webhooks worker."""
    port = free_port()
    env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/1"}
    _beat_jobs()
    with running_receiver() as receiver:
        endpoint_create(merchant=alice.merchant, url=receiver.url, event_types=["payment.created"], actor="t")
        with ExitStack() as stack:
            redis_proc = stack.enter_context(throwaway_redis(port))
            for kind in workers:
                stack.enter_context(celery_process(kind, env, tmp_path / f"{kind}.log"))
            stack.enter_context(celery_process("beat", env, tmp_path / "beat.log"))
            for _ in range(3):
                payment_make(alice.merchant)  # its nudges go to another Redis: lost for this worker
            wait_for(lambda: _successes() == 3, timeout=30, message="deliveries re-derived by Beat sweeps")

            os.kill(redis_proc.pid, signal.SIGKILL)  # Redis dies, with everything in it
            redis_proc.wait(timeout=5)
            stopped_at = time.monotonic()
            for _ in range(3):
                payment_make(alice.merchant)  # the gateway keeps committing events meanwhile
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))  # the outage itself
            assert _successes() == 3  # nothing could be delivered without a broker

            with throwaway_redis(port):  # back, empty, on the same port
                wait_for(lambda: _successes() == 6, timeout=60, message="every delivery after Redis returned")
    assert WebhookDelivery.objects.count() == 6
    assert len({r.webhook_id for r in receiver.received}) == 6
