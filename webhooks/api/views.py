"""Webhook endpoints and delivery logs API: parse (common.http.shapes / query), call one
service or selector, render (common.http.responses / pagination)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, page_render
from common.http.query import PageQuery, QueryText, StrictIntegerField, query_parse
from common.http.responses import json_response
from common.http.shapes import parse_json_body, validated
from payments.api.http import api_key_actor
from payments.api.schema import errors
from webhooks import selectors
from webhooks.api.serializers import (
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointUpdateSerializer,
    RecoverSerializer,
    RotateSecretSerializer,
    attempt_render,
    delivery_render,
    endpoint_snapshot,
)
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import endpoints as endpoint_services
from webhooks.services.delivery import delivery_retry
from webhooks.signing import payload_build

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


ENDPOINT_SCHEMA = inline_serializer(
    "WebhookEndpoint",
    {
        "id": serializers.CharField(),
        "url": serializers.CharField(),
        "description": serializers.CharField(),
        "event_types": serializers.ListField(child=serializers.CharField()),
        "enabled": serializers.BooleanField(),
        "is_default": serializers.BooleanField(),
        "disabled_reason": serializers.CharField(allow_null=True),
        "disabled_at": serializers.DateTimeField(allow_null=True),
        "failing_since": serializers.DateTimeField(allow_null=True),
        "previous_secret_expires_at": serializers.DateTimeField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "updated_at": serializers.DateTimeField(),
        "secret": serializers.CharField(required=False, help_text="only in the create and rotate answers"),
    },
)
ENDPOINT_LIST_SCHEMA = inline_serializer(
    "WebhookEndpointList", {"data": ENDPOINT_SCHEMA.__class__(many=True), "total": serializers.IntegerField()}
)
ATTEMPT_SCHEMA = inline_serializer(
    "WebhookAttempt",
    {
        "number": serializers.IntegerField(),
        "attempted_at": serializers.DateTimeField(),
        "url": serializers.CharField(),
        "status_code": serializers.IntegerField(allow_null=True),
        "latency_ms": serializers.IntegerField(),
        "response_body": serializers.CharField(allow_blank=True, help_text="truncated to 8 KiB"),
        "error_class": serializers.CharField(allow_null=True),
        "error": serializers.CharField(allow_null=True),
    },
)
LOG_LIST_SCHEMA = page_of("WebhookLogList", DeliverySerializer)


class DeliveryLogQuery(PageQuery):
    status = serializers.ChoiceField(DeliveryStatus.values, required=False)
    event = QueryText(help_text="exact type or family such as payment.*")
    endpoint_id = QueryText()
    created_after = serializers.DateTimeField(required=False, help_text="ISO-8601, inclusive")
    created_before = serializers.DateTimeField(required=False, help_text="ISO-8601, exclusive")
    limit = StrictIntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, help_text="page size")


LOG_PARAMETERS = [DeliveryLogQuery]


class EndpointListApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_list",
        responses={200: ENDPOINT_LIST_SCHEMA, **errors(401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        items = [endpoint_snapshot(e) for e in selectors.endpoint_list_for_merchant(merchant=request.user)]
        return json_response({"data": items, "total": len(items)})

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_create",
        request=EndpointCreateSerializer,
        responses={201: ENDPOINT_SCHEMA, **errors(400, 401, 415, 429)},
    )
    def post(self, request: Request) -> HttpResponse:
        data = validated(EndpointCreateSerializer, parse_json_body(request))
        endpoint = endpoint_services.endpoint_create(merchant=request.user, actor=api_key_actor(request), **data)
        return json_response({**endpoint_snapshot(endpoint), "secret": endpoint.secret}, status=201)


class EndpointDetailApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_get",
        responses={200: ENDPOINT_SCHEMA, **errors(401, 404, 429)},
    )
    def get(self, request: Request, endpoint_id: str) -> HttpResponse:
        return json_response(endpoint_snapshot(selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)))

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_update",
        request=EndpointUpdateSerializer,
        responses={200: ENDPOINT_SCHEMA, **errors(400, 401, 404, 415, 429)},
    )
    def patch(self, request: Request, endpoint_id: str) -> HttpResponse:
        endpoint = selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)
        data = validated(EndpointUpdateSerializer, parse_json_body(request))
        endpoint = endpoint_services.endpoint_update(endpoint=endpoint, actor=api_key_actor(request), **data)
        return json_response(endpoint_snapshot(endpoint))

    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_delete",
        responses={204: None, **errors(400, 401, 404, 429)},
    )
    def delete(self, request: Request, endpoint_id: str) -> HttpResponse:
        endpoint = selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)
        endpoint_services.endpoint_delete(endpoint=endpoint, actor=api_key_actor(request))
        return HttpResponse(status=204)


class EndpointRotateSecretApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_rotate_secret",
        request=RotateSecretSerializer,
        responses={200: ENDPOINT_SCHEMA, **errors(400, 401, 404, 415, 429)},
    )
    def post(self, request: Request, endpoint_id: str) -> HttpResponse:
        endpoint = selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)
        data = validated(RotateSecretSerializer, parse_json_body(request))
        endpoint, secret = endpoint_services.endpoint_rotate_secret(
            endpoint=endpoint, actor=api_key_actor(request), grace_seconds=data.get("grace_period_seconds")
        )
        return json_response({**endpoint_snapshot(endpoint), "secret": secret})


class EndpointTestApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_test",
        request=None,
        responses={
            202: inline_serializer(
                "WebhookTest",
                {
                    "endpoint_id": serializers.CharField(),
                    "event_id": serializers.CharField(),
                    "message": serializers.CharField(),
                },
            ),
            **errors(401, 404, 409, 429),
        },
    )
    def post(self, request: Request, endpoint_id: str) -> HttpResponse:
        endpoint = selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)
        event_id = endpoint_services.endpoint_test(endpoint=endpoint, actor=api_key_actor(request))
        return json_response(
            {"endpoint_id": endpoint.id, "event_id": event_id, "message": "Test webhook scheduled"}, status=202
        )


class EndpointRecoverApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhook_endpoints_recover",
        request=RecoverSerializer,
        responses={
            200: inline_serializer(
                "WebhookRecover",
                {
                    "endpoint_id": serializers.CharField(),
                    "recovered": serializers.IntegerField(),
                    "message": serializers.CharField(),
                },
            ),
            **errors(400, 401, 404, 409, 415, 429),
        },
    )
    def post(self, request: Request, endpoint_id: str) -> HttpResponse:
        endpoint = selectors.endpoint_get(merchant=request.user, endpoint_id=endpoint_id)
        data = validated(RecoverSerializer, parse_json_body(request))
        count = endpoint_services.endpoint_recover(endpoint=endpoint, since=data["since"], actor=api_key_actor(request))
        return json_response({"endpoint_id": endpoint.id, "recovered": count, "message": "Failed deliveries re-queued"})


class DeliveryListApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhooks_list",
        parameters=LOG_PARAMETERS,
        responses={200: LOG_LIST_SCHEMA, **errors(400, 401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        query = query_parse(request, DeliveryLogQuery)
        qs = selectors.delivery_list_for_merchant(
            merchant=request.user,
            status=query.get("status"),
            event=query.get("event"),
            endpoint_id=query.get("endpoint_id"),
            created_after=query.get("created_after"),
            created_before=query.get("created_before"),
        )
        return json_response(page_render(qs, limit=query["limit"], offset=query["offset"], render=delivery_render))


class DeliveryLogsAliasApi(DeliveryListApi):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhooks_logs",
        parameters=LOG_PARAMETERS,
        responses={200: LOG_LIST_SCHEMA, **errors(400, 401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)


class DeliveryDetailApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhooks_get",
        responses={
            200: inline_serializer(
                "WebhookDeliveryDetail",
                {
                    **DeliverySerializer().get_fields(),
                    "payload": serializers.DictField(help_text="the signed body as sent"),
                    "attempt_log": ATTEMPT_SCHEMA.__class__(many=True),
                },
            ),
            **errors(401, 404, 429),
        },
    )
    def get(self, request: Request, delivery_id: str) -> HttpResponse:
        delivery = selectors.delivery_get(merchant=request.user, delivery_id=delivery_id)
        attempts = [attempt_render(a) for a in selectors.attempts_for_delivery(delivery=delivery)]
        return json_response({**delivery_render(delivery), "payload": _payload(delivery), "attempt_log": attempts})


def _payload(delivery: WebhookDelivery) -> dict[str, Any]:
    event = delivery.event
    return payload_build(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)


class DeliveryAttemptsApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhooks_attempts",
        responses={
            200: inline_serializer(
                "WebhookAttemptList",
                {
                    "id": serializers.CharField(),
                    "data": ATTEMPT_SCHEMA.__class__(many=True),
                    "total": serializers.IntegerField(),
                },
            ),
            **errors(401, 404, 429),
        },
    )
    def get(self, request: Request, delivery_id: str) -> HttpResponse:
        delivery = selectors.delivery_get(merchant=request.user, delivery_id=delivery_id)
        attempts = [attempt_render(a) for a in selectors.attempts_for_delivery(delivery=delivery)]
        return json_response({"id": delivery.id, "data": attempts, "total": len(attempts)})


class DeliveryRetryApi(APIView):
    @extend_schema(
        tags=["webhooks"],
        operation_id="webhooks_retry",
        request=None,
        responses={
            200: inline_serializer(
                "WebhookRetry",
                {"id": serializers.CharField(), "status": serializers.CharField(), "message": serializers.CharField()},
            ),
            **errors(401, 404, 409, 429),
        },
    )
    def post(self, request: Request, delivery_id: str) -> HttpResponse:
        delivery = selectors.delivery_get(merchant=request.user, delivery_id=delivery_id)
        delivery = delivery_retry(delivery=delivery, actor=api_key_actor(request))
        return json_response({"id": delivery.id, "status": "pending", "message": "Webhook retry scheduled"})
