"""Inbound provider notifications: ``POST /api/v1/provider-webhooks/{provider}``.

Authenticated by the provider's signature, not an API key. Verified, stored raw,
deduplicated by the provider's event id and applied without ever regressing a state. A
provider that batches its notifications sends several in one signed POST; the answer then
counts them (503 in the error envelope if any could not be applied: the provider retries the
POST, and the ones already stored come back as duplicates)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from common.errors import AUTHENTICATION_ERROR, Unavailable
from common.http.errors import ApiError
from common.http.inputs import json_loads, read_body
from payments.api import schema
from payments.api.http import json_response
from payments.providers import get_provider
from payments.providers.base import InvalidSignature
from payments.services.provider_events import BatchReceiveOutcome, provider_notification_receive


class ProviderWebhookApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["providers"],
        operation_id="provider_webhooks_receive",
        auth=[],
        request=None,
        responses={
            200: inline_serializer(
                "ProviderWebhookAck",
                {
                    "received": serializers.BooleanField(),
                    "duplicate": serializers.BooleanField(required=False, help_text="one notification"),
                    "result": serializers.CharField(required=False, help_text="one notification"),
                    "notifications": serializers.IntegerField(
                        required=False, help_text="a batch: how many were new and applied"
                    ),
                    "duplicates": serializers.IntegerField(required=False, help_text="a batch: already received"),
                },
            ),
            **schema.errors(400, 401, 404, 413),
        },
    )
    def post(self, request: Request, provider: str) -> HttpResponse:
        get_provider(provider)  # unknown provider -> 404
        body = read_body(request)
        if body:
            json_loads(body)  # the input layer's rules hold before any provider code parses it
        try:
            outcome = provider_notification_receive(provider_name=provider, headers=request.headers, body=body)
        except InvalidSignature as exc:
            raise ApiError(str(exc), code=AUTHENTICATION_ERROR, status=401, reason="invalid_signature") from None
        if isinstance(outcome, BatchReceiveOutcome):
            if outcome.failed:  # the others are stored; the provider's retry of the POST applies these
                raise Unavailable(
                    f"{len(outcome.failed)} of the notifications could not be applied; retry",
                    reason="notifications_not_applied",
                    retry_after_seconds=2,
                )
            return json_response(
                {"received": True, "notifications": outcome.received, "duplicates": outcome.duplicates}
            )
        return json_response({"received": True, "duplicate": outcome.duplicate, "result": outcome.result})
