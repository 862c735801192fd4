"""The Celery app: configuration from Django settings, correlation ids on every task,
and a worker heartbeat that /health reads (a real liveness signal, not a guess)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from celery import Celery, Task, bootsteps
from celery.signals import worker_process_init, worker_ready

from common.checks import require_production_secrets
from common.correlation import correlation_scope, get_correlation_id
from common.health import HEARTBEAT_KEY_PREFIX
from common.process import process_serving
from common.redis import redis_client

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


# Not "correlation_id": Celery already uses that name for the task id (AMQP property).
CORRELATION_HEADER = "tender_correlation_id"


class CorrelatedTask(Task):
    """Carries the caller's correlation id in the message headers and restores it
    in the worker, so one id follows a request through tasks, events and webhooks."""

    def apply_async(
        self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, shadow=None, **options
    ):
        headers = dict(options.pop("headers", None) or {})
        correlation_id = get_correlation_id()
        if correlation_id and CORRELATION_HEADER not in headers:
            headers[CORRELATION_HEADER] = correlation_id
        options["headers"] = headers
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        correlation_id = getattr(self.request, CORRELATION_HEADER, None)
        if correlation_id is None:
            correlation_id = (getattr(self.request, "headers", None) or {}).get(CORRELATION_HEADER)
        with correlation_scope(correlation_id):
            return super().__call__(*args, **kwargs)


app = Celery("tender", task_cls=CorrelatedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["payments"], related_name="outbox_tasks")


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes ``tender:worker-heartbeat:<hostname>`` to Redis every few seconds from the
    worker's main process. The key expires, so a dead or stopped worker disappears."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None
        self.client = None

    def start(self, worker):
        from django.conf import settings

        require_production_secrets()  # a worker refuses to run without the production secrets

        self.client = redis_client()
        name = HEARTBEAT_KEY_PREFIX + (worker.hostname or socket.gethostname())
        ttl = settings.WORKER_HEARTBEAT_TTL

        def beat() -> None:
            # Redis down: /health reports it; keep beating so the key returns with Redis.
            with contextlib.suppress(Exception):
                self.client.set(name, str(time.time()), ex=ttl)

        beat()
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_INTERVAL, beat)
        self._name = name

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.delete(self._name)


app.steps["worker"].add(WorkerHeartbeat)


@worker_process_init.connect
def _forget_inherited_pools(**kwargs: Any) -> None:
    """A prefork child must not share its parent's psycopg pool (its sockets and threads do
    not survive fork): drop the inherited one unopened, so the child builds its own."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    DatabaseWrapper._connection_pools.clear()


@worker_ready.connect
@worker_process_init.connect
def _process_serving(**kwargs: Any) -> None:
    """Tasks are imported by now: in the main process (where a threads pool runs them) and in
    each prefork child (after its fork)."""
    process_serving()
