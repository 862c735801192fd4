"""Request shapes (validation only) and the plain-dict renderings of webhook objects."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from common.http.query import StrictIntegerField
from payments.api.fields import StrictBooleanField
from payments.snapshots import iso
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services.endpoints import endpoint_snapshot

__all__ = ["attempt_render", "delivery_render", "endpoint_snapshot"]


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, trim_whitespace=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False, min_length=1
    )
    enabled = StrictBooleanField(required=False, default=True)


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, required=False, allow_blank=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False, min_length=1
    )
    enabled = StrictBooleanField(required=False)


class RotateSecretSerializer(serializers.Serializer):
    grace_period_seconds = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=settings.WEBHOOK_ROTATION_GRACE_MAX_SECONDS,
        reason="invalid_grace_period",
    )


class RecoverSerializer(serializers.Serializer):
    since = serializers.DateTimeField()


class DeliverySerializer(serializers.Serializer):
    """Schema only: the log entry shape."""

    id = serializers.CharField()
    event = serializers.CharField()
    event_id = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    response_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    endpoint_id = serializers.CharField()


def delivery_render(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event_type,
        "event_id": delivery.event.id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": iso(delivery.created_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "next_retry_at": iso(delivery.next_retry_at) if delivery.status == "pending" else None,
        "response_code": delivery.response_code,
        "last_error": delivery.last_error or None,
        "endpoint_id": delivery.endpoint_id,
    }


def attempt_render(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "attempted_at": iso(attempt.started_at),
        "url": attempt.url,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_body": attempt.response_body,
        "error_class": attempt.error_class or None,
        "error": attempt.error or None,
    }
