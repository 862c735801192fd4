"""Customers API: customers (create, list, get, update) and their saved payment methods
(save, list, get, delete). Thin views: a serializer validates, a service or selector acts,
a snapshot renders."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, paginated
from common.http.responses import json_response
from common.http.shapes import parse_json_body, validated
from payments.api import schema
from payments.api.customer_serializers import (
    Customer,
    CustomerCreate,
    CustomerUpdate,
    PaymentMethod,
    PaymentMethodCreate,
)
from payments.api.http import mutate
from payments.selectors.customers import (
    customer_get_for_merchant,
    customer_list_for_merchant,
    payment_method_get_for_customer,
    payment_method_list_for_customer,
)
from payments.services.customers import customer_create, customer_update, payment_method_delete, payment_method_save
from payments.snapshots import customer_snapshot, payment_method_snapshot


class CustomersApi(APIView):
    @extend_schema(
        tags=["customers"],
        operation_id="customers_create",
        request=CustomerCreate,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: Customer, **schema.errors(400, 401, 409, 413, 415, 429)},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        fields = validated(CustomerCreate, body)

        def action() -> tuple[int, dict[str, Any]]:
            return 201, customer_snapshot(customer_create(merchant=request.user, **fields))

        return mutate(request, merchant=request.user, body=body, action=action)

    @extend_schema(
        tags=["customers"],
        operation_id="customers_list",
        parameters=schema.PAGE_PARAMETERS,
        responses={200: page_of("CustomerPage", Customer), **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return paginated(request, customer_list_for_merchant(merchant=request.user), customer_snapshot)


class CustomerDetailApi(APIView):
    @extend_schema(tags=["customers"], operation_id="customers_get", responses={200: Customer, **schema.READ_ERRORS})
    def get(self, request: Request, customer_id: str) -> HttpResponse:
        return json_response(
            customer_snapshot(customer_get_for_merchant(merchant=request.user, customer_id=customer_id))
        )

    @extend_schema(
        tags=["customers"],
        operation_id="customers_update",
        request=CustomerUpdate,
        responses={200: Customer, **schema.WRITE_ERRORS},
    )
    def patch(self, request: Request, customer_id: str) -> HttpResponse:
        fields = validated(CustomerUpdate, parse_json_body(request), partial=True)
        return json_response(
            customer_snapshot(customer_update(merchant=request.user, customer_id=customer_id, **fields))
        )


class CustomerPaymentMethodsApi(APIView):
    @extend_schema(
        tags=["customers"],
        operation_id="customers_payment_methods_create",
        request=PaymentMethodCreate,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={
            201: PaymentMethod,
            200: OpenApiResponse(PaymentMethod, description="this card or VPA was already saved: that method"),
            **schema.WRITE_ERRORS,
        },
    )
    def post(self, request: Request, customer_id: str) -> HttpResponse:
        body = parse_json_body(request)
        fields = validated(PaymentMethodCreate, body)

        def action() -> tuple[int, dict[str, Any]]:
            saved = payment_method_save(merchant=request.user, customer_id=customer_id, **fields)
            return (201 if saved.created else 200), payment_method_snapshot(saved.method)

        return mutate(request, merchant=request.user, body=body, action=action)

    @extend_schema(
        tags=["customers"],
        operation_id="customers_payment_methods_list",
        parameters=schema.PAGE_PARAMETERS,
        responses={200: page_of("PaymentMethodPage", PaymentMethod), **schema.errors(400, 401, 404, 429)},
    )
    def get(self, request: Request, customer_id: str) -> HttpResponse:
        methods = payment_method_list_for_customer(merchant=request.user, customer_id=customer_id)
        return paginated(request, methods, payment_method_snapshot)


class CustomerPaymentMethodDetailApi(APIView):
    @extend_schema(
        tags=["customers"],
        operation_id="customers_payment_methods_get",
        responses={200: PaymentMethod, **schema.READ_ERRORS},
    )
    def get(self, request: Request, customer_id: str, payment_method_id: str) -> HttpResponse:
        method = payment_method_get_for_customer(
            merchant=request.user, customer_id=customer_id, payment_method_id=payment_method_id
        )
        return json_response(payment_method_snapshot(method))

    @extend_schema(
        tags=["customers"],
        operation_id="customers_payment_methods_delete",
        responses={200: PaymentMethod, **schema.errors(401, 404, 429)},
    )
    def delete(self, request: Request, customer_id: str, payment_method_id: str) -> HttpResponse:
        method = payment_method_delete(
            merchant=request.user, customer_id=customer_id, payment_method_id=payment_method_id
        )
        return json_response(payment_method_snapshot(method))
