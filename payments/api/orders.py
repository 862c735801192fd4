"""Orders API: thin views over :mod:`payments.services.orders` and the selectors."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, paginated
from common.http.responses import json_response
from common.http.shapes import parse_json_body, validated
from payments.api import schema
from payments.api.http import mutate
from payments.selectors.payments import order_get_for_merchant, order_get_public, order_list_for_merchant
from payments.services.orders import order_create
from payments.snapshots import order_public_snapshot, order_snapshot


class OrdersApi(APIView):
    @extend_schema(
        tags=["orders"],
        operation_id="orders_create",
        request=schema.OrderCreate,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: schema.Order, **schema.errors(400, 401, 404, 409, 413, 415, 429)},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        data = validated(schema.OrderCreate, body)
        customer = dict(data["customer"]) if data.get("customer") is not None else None

        def action() -> tuple[int, dict]:
            order = order_create(
                merchant=request.user,
                amount=data["amount"],
                currency=data.get("currency"),
                receipt=data.get("receipt"),
                notes=data.get("notes"),
                callback_url=data.get("callback_url"),
                customer_id=data.get("customer_id"),
                customer=customer,
            )
            return 201, order_snapshot(order)

        return mutate(request, merchant=request.user, body=body, action=action)

    @extend_schema(
        tags=["orders"],
        operation_id="orders_list",
        parameters=schema.PAGE_PARAMETERS,
        responses={200: page_of("OrderPage", schema.Order), **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return paginated(request, order_list_for_merchant(merchant=request.user), order_snapshot)


class OrderDetailApi(APIView):
    @extend_schema(tags=["orders"], operation_id="orders_get", responses={200: schema.Order, **schema.READ_ERRORS})
    def get(self, request: Request, order_id: str) -> HttpResponse:
        return json_response(order_snapshot(order_get_for_merchant(merchant=request.user, order_id=order_id)))


class OrderPublicApi(APIView):
    """No authentication: the hosted checkout shows what it is about to charge."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["checkout"],
        operation_id="orders_public_get",
        auth=[],
        responses={200: schema.OrderPublic, **schema.PUBLIC_READ_ERRORS},
    )
    def get(self, request: Request, order_id: str) -> HttpResponse:
        return json_response(order_public_snapshot(order_get_public(order_id=order_id)))
