"""Payments API: create/list/get, the status timeline (with long-polling), capture,
cancel, refunds of a payment, and the public endpoints of the hosted checkout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from common.errors import InvalidInput
from common.http.pagination import page_of, page_render
from common.http.query import StrictIntegerField, query_parse
from common.http.responses import json_response
from common.http.shapes import parse_json_body, validated
from common.http.throttling import CheckoutIpRateLimit, checkout_attempt_register
from payments.api import schema
from payments.api.http import mutate
from payments.changes import payment_change_wait
from payments.models import Merchant, Payment
from payments.selectors.payments import (
    order_get_public,
    payment_get_for_merchant,
    payment_get_public,
    payment_list_for_merchant,
    payment_timeline,
    payment_version_get,
)
from payments.services.payments import payment_cancel, payment_capture, payment_create
from payments.services.refunds import refund_create
from payments.snapshots import iso, payment_public_snapshot, payment_snapshot

MAX_WAIT_SECONDS = 30


def payment_created_body(payment: Payment) -> dict[str, Any]:
    """The 201 body of PRODUCT.md §3, exactly."""
    data: dict[str, Any] = {
        "id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
    }
    if payment.method == "upi":
        data["vpa"] = payment.vpa
    else:
        data["card_network"] = payment.card_network
        data["card_last4"] = payment.card_last4
    data["status"] = payment.status
    data["created_at"] = iso(payment.created_at)
    if payment.customer_id is not None:
        data["customer_id"] = payment.customer_id
    if payment.payment_method_id is not None:
        data["payment_method_id"] = payment.payment_method_id
    return data


def refund_created_body(refund: Any) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "reason": refund.reason,
        "status": refund.status,
        "created_at": iso(refund.created_at),
    }


def _create_payment(
    request: Request,
    *,
    merchant: Merchant,
    body: dict[str, Any],
    data: dict[str, Any],
    source: str,
    public: bool,
    checkout_customer_id: str | None = None,
) -> HttpResponse:
    """``data`` is ``body`` validated by the endpoint's serializer (before any idempotency
    claim or write); ``body`` is what the idempotency hash covers."""
    method = data.get("method")
    payment_method_id = data.get("payment_method_id")
    if public:
        # The checkout pays with a saved method only of the order's own customer: the
        # customer is the order's, never the browser's word ("" matches no method).
        customer_id = (checkout_customer_id or "") if payment_method_id is not None else None
    else:
        customer_id = data.get("customer_id")
    if payment_method_id is not None and data.get("card") is not None:
        raise InvalidInput(
            "send either card or payment_method_id, not both", field="card", reason="card_with_payment_method"
        )
    wants_card = method == "card" and payment_method_id is None

    def action() -> tuple[int, dict[str, Any]]:
        payment = payment_create(
            merchant=merchant,
            order_id=data.get("order_id"),
            amount=data.get("amount"),
            currency=data.get("currency"),
            method=method,
            vpa=data.get("vpa"),
            card=data.get("card") if wants_card else None,
            # An anonymous caller must not choose where the merchant's signed redirect goes:
            # checkout payments inherit the order's callback_url, set by the merchant.
            callback_url=data.get("callback_url"),
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            source=source,
        )
        return 201, payment_public_snapshot(payment) if public else payment_created_body(payment)

    return mutate(request, merchant=merchant, body=body, action=action, key_namespace="checkout:" if public else "")


class PaymentsApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_create",
        request=schema.PaymentCreate,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: schema.PaymentCreated, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        data = validated(schema.PaymentCreate, body)
        return _create_payment(request, merchant=request.user, body=body, data=data, source="api", public=False)

    @extend_schema(
        tags=["payments"],
        operation_id="payments_list",
        parameters=[schema.PaymentListQuery],
        responses={200: page_of("PaymentPage", schema.Payment), **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        query = query_parse(request, schema.PaymentListQuery)
        limit, offset = query.pop("limit"), query.pop("offset")
        payments = payment_list_for_merchant(merchant=request.user, **query)
        return json_response(page_render(payments, limit=limit, offset=offset, render=payment_snapshot))


class PaymentDetailApi(APIView):
    @extend_schema(
        tags=["payments"], operation_id="payments_get", responses={200: schema.Payment, **schema.READ_ERRORS}
    )
    def get(self, request: Request, payment_id: str) -> HttpResponse:
        return json_response(payment_snapshot(payment_get_for_merchant(merchant=request.user, payment_id=payment_id)))


class StatusQuery(serializers.Serializer):
    wait = StrictIntegerField(
        min_value=0, max_value=MAX_WAIT_SECONDS, default=0, help_text="seconds to wait for a change"
    )
    after_version = StrictIntegerField(
        min_value=0, max_value=2**31, required=False, help_text="answer once version > this"
    )


class PaymentStatusApi(APIView):
    """The timeline. ``?wait=N&after_version=V`` long-polls up to N (≤ 30) seconds for a
    version above V. This sync view authenticates, throttles, validates and answers at once;
    when the caller must wait it hands :func:`payment_status` a :class:`LongPoll`, and the
    wait happens there, in the event loop."""

    @extend_schema(
        tags=["payments"],
        operation_id="payments_status",
        parameters=[StatusQuery],
        responses={200: schema.PaymentStatus, **schema.errors(400, 401, 404, 429)},
    )
    def get(self, request: Request, payment_id: str) -> HttpResponse:
        query = query_parse(request, StatusQuery)
        wait, after_version = query["wait"], query.get("after_version", -1)
        payment = payment_get_for_merchant(merchant=request.user, payment_id=payment_id)
        baseline = payment.version if after_version < 0 else after_version
        if wait and payment.version <= baseline:
            response = HttpResponse(status=200)
            response.long_poll = LongPoll(merchant=request.user, deadline=time.monotonic() + wait, baseline=baseline)  # type: ignore[attr-defined]
            return response
        return json_response(payment_status_body(payment))


@dataclass(frozen=True)
class LongPoll:
    merchant: Merchant
    deadline: float
    baseline: int


def payment_status_body(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "status": payment.status,
        "last_updated": iso(payment.updated_at),
        "version": payment.version,
        "events": [
            {"status": e.to_status, "timestamp": iso(e.created_at), "detail": e.detail, "version": e.version}
            for e in payment_timeline(payment=payment)
        ],
    }


def _release_connection() -> None:
    """Give a pooled connection back between the sync steps, so a waiting poll holds none
    (never inside a transaction: a test's wrapping atomic block stays intact)."""
    if settings.DB_POOL_SIZE and not connection.in_atomic_block:
        connection.close()


_status_view = PaymentStatusApi.as_view()


def _status_step(request: HttpRequest, payment_id: str) -> HttpResponse:
    try:
        return _status_view(request, payment_id=payment_id)
    finally:
        _release_connection()


def _version_step(long_poll: LongPoll, payment_id: str) -> int | None:
    try:
        return payment_version_get(merchant=long_poll.merchant, payment_id=payment_id)
    finally:
        _release_connection()


def _final_step(long_poll: LongPoll, payment_id: str) -> HttpResponse:
    try:
        return json_response(
            payment_status_body(payment_get_for_merchant(merchant=long_poll.merchant, payment_id=payment_id))
        )
    finally:
        _release_connection()


async def payment_status(request: HttpRequest, payment_id: str) -> HttpResponse:
    """``GET /payments/{id}/status``, async: a long-poll awaits a push about the payment
    (the outbox dispatcher sends one per committed event; :mod:`payments.changes`) and
    re-reads PostgreSQL at least every LONG_POLL_RECHECK_SECONDS (a push may be lost), holding no
    thread and no database connection while it waits. Served by daphne in the
    production layout (the front routes this path there)."""
    response = await sync_to_async(_status_step)(request, payment_id)
    long_poll: LongPoll | None = getattr(response, "long_poll", None)
    if long_poll is None:
        return response
    while (remaining := long_poll.deadline - time.monotonic()) > 0:
        await payment_change_wait(payment_id=payment_id, timeout=min(remaining, settings.LONG_POLL_RECHECK_SECONDS))
        version = await sync_to_async(_version_step)(long_poll, payment_id)
        if version is None or version > long_poll.baseline:
            break
    return await sync_to_async(_final_step)(long_poll, payment_id)


# The schema generator documents the DRF view behind the async entry point.
payment_status.cls = PaymentStatusApi  # type: ignore[attr-defined]
payment_status.initkwargs = {}  # type: ignore[attr-defined]


class PaymentCaptureApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_capture",
        request=None,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={200: schema.Payment, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request, payment_id: str) -> HttpResponse:
        body = parse_json_body(request)

        def action() -> tuple[int, dict[str, Any]]:
            return 200, payment_snapshot(payment_capture(merchant=request.user, payment_id=payment_id))

        return mutate(request, merchant=request.user, body=body, action=action)


class PaymentCancelApi(APIView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_cancel",
        request=None,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={200: schema.Payment, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request, payment_id: str) -> HttpResponse:
        body = parse_json_body(request)

        def action() -> tuple[int, dict[str, Any]]:
            return 200, payment_snapshot(payment_cancel(merchant=request.user, payment_id=payment_id))

        return mutate(request, merchant=request.user, body=body, action=action)


def create_refund_response(
    request: Request, *, payment_id: str | None, body: dict[str, Any], shape: type[serializers.Serializer]
) -> HttpResponse:
    """Both refund-create paths; ``payment_id`` comes from the URL, else from the body."""
    data = validated(shape, body)
    payment_id = payment_id or data["payment_id"]

    def action() -> tuple[int, dict[str, Any]]:
        refund = refund_create(
            merchant=request.user, payment_id=payment_id, amount=data["amount"], reason=data.get("reason")
        )
        return 201, refund_created_body(refund)

    return mutate(request, merchant=request.user, body=body, action=action)


class PaymentRefundsApi(APIView):
    @extend_schema(
        tags=["refunds"],
        operation_id="payments_refunds_create",
        request=schema.RefundCreate,
        parameters=[schema.IDEMPOTENCY_HEADER],
        responses={201: schema.RefundCreated, **schema.WRITE_ERRORS},
    )
    def post(self, request: Request, payment_id: str) -> HttpResponse:
        body = parse_json_body(request)
        return create_refund_response(request, payment_id=payment_id, body=body, shape=schema.RefundCreate)


class PaymentPublicCreateApi(APIView):
    """No authentication: the hosted checkout pays an order; the order id is the capability."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CheckoutIpRateLimit]

    @extend_schema(
        tags=["checkout"],
        operation_id="payments_public_create",
        auth=[],
        request=schema.PublicPaymentCreate,
        parameters=[schema.CHECKOUT_IDEMPOTENCY_HEADER],
        responses={201: schema.PaymentPublic, **schema.PUBLIC_WRITE_ERRORS},
    )
    def post(self, request: Request) -> HttpResponse:
        body = parse_json_body(request)
        data = validated(schema.PublicPaymentCreate, body)
        order = order_get_public(order_id=data["order_id"])
        checkout_attempt_register(order_id=order.id)
        return _create_payment(
            request,
            merchant=order.merchant,
            body=body,
            data=data,
            source="checkout",
            public=True,
            checkout_customer_id=order.customer_id,
        )


class PaymentPublicApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["checkout"],
        operation_id="payments_public_get",
        auth=[],
        responses={200: schema.PaymentPublic, **schema.PUBLIC_READ_ERRORS},
    )
    def get(self, request: Request, payment_id: str) -> HttpResponse:
        return json_response(payment_public_snapshot(payment_get_public(payment_id=payment_id)))
