"""``GET /api/v1/test/jobs/status`` (demo mode): real queue depths from the broker, payment
counts from PostgreSQL and the worker heartbeat keys in Redis."""

from __future__ import annotations

from amqp.exceptions import ChannelError
from celery import current_app
from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from common.health import redis_and_worker_status  # the same worker check as /health
from common.http.responses import json_response
from payments.api import schema
from payments.api.demo import DemoModeOnly
from payments.models import Payment


def broker_queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue (works for Redis and AMQP brokers); None if unreachable."""
    depths: dict[str, int] = {}
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            for queue in settings.CELERY_TASK_QUEUES:
                depths[queue.name] = _depth(conn, queue.name)
    except Exception:  # noqa: BLE001 - the endpoint reports "unknown" instead of failing
        return None
    return depths


def _depth(conn: object, name: str) -> int:
    # A fresh channel per queue: AMQP closes a channel after a failed passive declare.
    try:
        with conn.channel() as channel:
            return channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:
        return 0  # never declared / empty (Redis deletes empty lists)


class JobsStatusApi(APIView):
    """Queue counts (demo mode only, no credentials, as the seed gateway serves them)."""

    authentication_classes: list = []
    permission_classes = [DemoModeOnly]

    @extend_schema(
        tags=["test"],
        operation_id="test_jobs_status",
        auth=[],
        responses={
            200: inline_serializer(
                "JobsStatus",
                {
                    "pending": serializers.IntegerField(),
                    "processing": serializers.IntegerField(),
                    "completed": serializers.IntegerField(),
                    "failed": serializers.IntegerField(),
                    "worker_status": serializers.ChoiceField(["running", "stopped"]),
                    "queues": serializers.DictField(child=serializers.IntegerField()),
                },
            ),
            **schema.errors(404),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        depths = broker_queue_depths()
        _, worker = redis_and_worker_status()
        counts = dict(Payment.objects.values_list("status").annotate(n=Count("id")).order_by())
        return json_response(
            {
                # pending: task messages waiting in the broker; processing: payments accepted
                # but not final (queued or at the provider); completed/failed: final payments.
                "pending": sum(depths.values()) if depths is not None else None,
                "processing": counts.get("pending", 0),
                "completed": counts.get("success", 0),
                "failed": counts.get("failed", 0),
                "worker_status": "running" if worker == "running" else "stopped",
                "queues": depths or {},
            }
        )
