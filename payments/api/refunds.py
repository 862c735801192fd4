"""Refunds API: the list, the ``POST /refunds`` alias (``payment_id`` in the body) and the get."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, page_render
from common.http.query import PageQuery, QueryText, query_parse
from common.http.responses import json_response
from common.http.shapes import parse_json_body
from payments.api import schema
from payments.api.payments import create_refund_response
from payments.selectors.payments import refund_get_for_merchant, refund_list_for_merchant
from payments.snapshots import refund_snapshot
from payments.states import RefundStatus


class RefundListQuery(PageQuery):
    payment_id = QueryText(help_text="only this payment's refunds")
    status = serializers.ChoiceField(RefundStatus.values, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="ISO-8601, inclusive")
    created_before = serializers.DateTimeField(required=False, help_text="ISO-8601, exclusive")


class RefundsApi(APIView):
    @extend_schema(
        tags=["refunds"],
        operation_id="refunds_list",
        parameters=[RefundListQuery],
        responses={200: page_of("RefundPage", schema.Refund), **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        """Newest first, paginated like payments (``{data, total, limit, offset}``)."""
        query = query_parse(request, RefundListQuery)
        refunds = refund_list_for_merchant(
            merchant=request.user,
            payment_id=query.get("payment_id"),
            status=query.get("status"),
            created_after=query.get("created_after"),
            created_before=query.get("created_before"),
        )
        return json_response(page_render(refunds, limit=query["limit"], offset=query["offset"], render=refund_snapshot))

    @extend_schema(
        tags=["refunds"],
        operation_id="refunds_create",
        request=schema.RefundCreateAlias,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: schema.RefundCreated, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        return create_refund_response(request, payment_id=None, body=body, shape=schema.RefundCreateAlias)


class RefundDetailApi(APIView):
    @extend_schema(tags=["refunds"], operation_id="refunds_get", responses={200: schema.Refund, **schema.READ_ERRORS})
    def get(self, request: Request, refund_id: str) -> HttpResponse:
        return json_response(refund_snapshot(refund_get_for_merchant(merchant=request.user, refund_id=refund_id)))
