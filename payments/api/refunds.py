"""Refunds API: the ``POST /refunds`` alias (``payment_id`` in the body) and the get."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from payments.api import schema
from payments.api.http import json_response, parse_json_body
from payments.api.payments import create_refund_response
from payments.selectors.payments import refund_get_for_merchant
from payments.snapshots import refund_snapshot


class RefundsApi(APIView):
    @extend_schema(
        tags=["refunds"],
        operation_id="refunds_create",
        request=schema.RefundCreateAlias,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: schema.RefundCreated, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        return create_refund_response(request, payment_id=body.get("payment_id"), body=body)


class RefundDetailApi(APIView):
    @extend_schema(tags=["refunds"], operation_id="refunds_get", responses={200: schema.Refund, **schema.READ_ERRORS})
    def get(self, request: Request, refund_id: str) -> HttpResponse:
        return json_response(refund_snapshot(refund_get_for_merchant(merchant=request.user, refund_id=refund_id)))
