"""The serializers of the payments API. Request serializers are the validation of their
endpoint and its OpenAPI schema at once (views call :func:`common.http.shapes.validated`).
Response serializers describe the plain dicts of :mod:`payments.snapshots` (rendered
without DRF on the hot path); ``tests/payments/test_contract.py`` checks every real
response against them (exact field sets, declared status codes) and the schemathesis run
of ``tests/foundation/test_schemathesis.py`` checks both directions against a live server."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from common.http.query import PageQuery, QueryText
from payments import states
from payments.api import fields
from payments.api.customer_shapes import CustomerCreate
from payments.models import CardNetwork, PaymentMethod

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    # Printable ASCII; no space at either end (HTTP strips it, so it could not be the key).
    pattern="^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,253}[\\x21-\\x7e])?$",
    description=(
        "1-255 printable ASCII characters, merchant-scoped, kept 24 h: a retry returns the stored status "
        "and body byte for byte (header `Idempotent-Replayed: true`). While the first request is in flight: "
        "409 CONFLICT_ERROR `idempotency_key_in_flight` with `Retry-After`. The same key with another "
        "method, path or body: 400 `idempotency_key_reused`."
    ),
)
CHECKOUT_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    # As above, 9 characters shorter: the checkout's keys are stored as "checkout:" + key.
    pattern="^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,244}[\\x21-\\x7e])?$",
    description=(
        "1-246 printable ASCII characters, merchant-scoped, kept 24 h: a retry returns the stored status "
        "and body byte for byte (header `Idempotent-Replayed: true`). While the first request is in flight: "
        "409 CONFLICT_ERROR `idempotency_key_in_flight` with `Retry-After`. The same key with another "
        "method, path or body: 400 `idempotency_key_reused`."
    ),
)
PAGE_PARAMETERS = [PageQuery]

Error = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.ChoiceField(
                    [
                        "BAD_REQUEST_ERROR",
                        "AUTHENTICATION_ERROR",
                        "NOT_FOUND_ERROR",
                        "INVALID_VPA",
                        "INVALID_CARD",
                        "EXPIRED_CARD",
                        "CONFLICT_ERROR",
                        "RATE_LIMIT_ERROR",
                        "SERVER_ERROR",
                    ]
                ),
                "description": serializers.CharField(),
                "field": serializers.CharField(allow_null=True, help_text="the offending input, dotted (card.cvv)"),
                "reason": serializers.CharField(allow_null=True, help_text="finer, stable cause"),
                "correlation_id": serializers.CharField(help_text="also in the X-Correlation-ID header"),
            },
        )
    },
)

_ERROR_DESCRIPTIONS = {
    400: "BAD_REQUEST_ERROR (on payment create also INVALID_VPA, INVALID_CARD, EXPIRED_CARD); `reason` has the "
    "finer cause (`idempotency_key_reused`, `refund_exceeds_available`, `payment_not_capturable`, ...)",
    401: "AUTHENTICATION_ERROR: missing or invalid X-Api-Key/X-Api-Secret (or HTTP Basic)",
    404: "NOT_FOUND_ERROR: unknown id, or another merchant's object",
    409: "CONFLICT_ERROR: Idempotency-Key still in flight (with Retry-After), or an invalid state transition",
    413: "BAD_REQUEST_ERROR `body_too_large`: the body exceeds API_MAX_BODY_BYTES (64 KiB)",
    415: "BAD_REQUEST_ERROR `unsupported_media_type`: send application/json",
    429: "RATE_LIMIT_ERROR with Retry-After",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation can give, each in the envelope."""
    return {status: OpenApiResponse(response=Error, description=_ERROR_DESCRIPTIONS[status]) for status in statuses}


# Error sets by kind of operation (API-key operations can also be rate limited). Every
# operation can answer 400: the input layer refuses bad bytes in any path, query or header.
READ_ERRORS = errors(400, 401, 404, 429)
LIST_ERRORS = errors(400, 401, 429)
WRITE_ERRORS = errors(400, 401, 404, 409, 413, 415, 429)
PUBLIC_READ_ERRORS = errors(400, 404)
PUBLIC_WRITE_ERRORS = errors(400, 404, 409, 413, 415, 429)  # 429: per client IP and per order


# Request serializers validate AND document their endpoint (views call
# common.http.shapes.validated); their fields run payments.validation's rules and declare
# the schema of exactly what those rules accept (payments/api/fields.py). Request shapes are
# named without a suffix: COMPONENT_SPLIT_REQUEST names their components "<name>Request".
class OrderCreate(serializers.Serializer):
    amount = fields.AmountField(required=True, allow_null=False)
    currency = fields.CurrencyField()
    receipt = fields.ReceiptField()
    notes = fields.NotesField()
    callback_url = fields.CallbackUrlField(help_text="http(s); the checkout returns the browser here")
    customer_id = fields.IdField(help_text="cust_…: its payments send this customer receipts")
    customer = CustomerCreate(
        required=False, help_text="instead of customer_id (not with it): makes a new customer for this order"
    )


class Order(serializers.Serializer):
    id = serializers.CharField(help_text="order_ + 16 alphanumerics")
    merchant_id = serializers.UUIDField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    receipt = serializers.CharField(allow_null=True)
    notes = serializers.DictField(child=serializers.CharField())
    callback_url = serializers.URLField(allow_null=True)
    status = serializers.ChoiceField(states.OrderStatus.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    customer_id = serializers.CharField(required=False, help_text="only when the order names a customer")


class OrderPublic(serializers.Serializer):
    id = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(states.OrderStatus.choices)


class PaymentCreate(serializers.Serializer):
    order_id = fields.IdField(help_text="an order of yours that is not paid")
    amount = fields.AmountField(help_text="without order_id: required, creates the order; with it: must match")
    currency = fields.CurrencyField(help_text="ISO 4217, default INR; with order_id: must match")
    method = fields.MethodField(required=False, help_text="required unless payment_method_id")
    vpa = fields.VpaField()
    card = fields.CardField()
    callback_url = fields.CallbackUrlField(help_text="overrides the order's")
    customer_id = fields.IdField(help_text="cust_…: who pays (receipts); required with payment_method_id")
    payment_method_id = fields.IdField(help_text="pm_… of that customer: pay with a saved card or VPA (no card data)")


class PublicPaymentCreate(serializers.Serializer):
    order_id = fields.IdField(required=True, allow_null=False, help_text="the capability: pays this order")
    method = fields.MethodField(required=False, help_text="required unless payment_method_id")
    payment_method_id = fields.IdField(help_text="a saved method of the order's customer (the checkout lists them)")
    vpa = fields.VpaField()
    card = fields.CardField()


class PaymentFilterQuery(serializers.Serializer):
    """The payment filters, shared by ``GET /payments`` and the dashboard's search."""

    status = serializers.ChoiceField(states.PaymentStatus.values, required=False)
    method = serializers.ChoiceField(PaymentMethod.values, required=False)
    order_id = QueryText()
    created_after = serializers.DateTimeField(required=False, help_text="ISO-8601, inclusive")
    created_before = serializers.DateTimeField(required=False, help_text="ISO-8601, exclusive")


class PaymentListQuery(PageQuery, PaymentFilterQuery):
    pass


class PaymentCreated(serializers.Serializer):
    """The 201 answer of ``POST /payments``: exactly PRODUCT.md §3's fields."""

    id = serializers.CharField(help_text="pay_ + 16 alphanumerics")
    order_id = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    method = serializers.ChoiceField(["upi", "card"])
    vpa = serializers.CharField(required=False, help_text="method upi only")
    card_network = serializers.ChoiceField(CardNetwork.values, required=False, help_text="method card only")
    card_last4 = serializers.CharField(required=False, help_text="method card only")
    status = serializers.ChoiceField(states.PaymentStatus.choices)
    created_at = serializers.DateTimeField()
    customer_id = serializers.CharField(required=False, help_text="only when the payment names a customer")
    payment_method_id = serializers.CharField(required=False, help_text="only when paid with a saved method")
    batch_id = serializers.CharField(required=False, help_text="only for a batch item: its batch_…")
    reference = serializers.CharField(required=False, help_text="only for a batch item: the item's reference")


class Payment(PaymentCreated):
    merchant_id = serializers.UUIDField()
    captured = serializers.BooleanField()
    error_code = serializers.CharField(allow_null=True)
    error_description = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(help_text="+1 on every change")
    updated_at = serializers.DateTimeField()


class PaymentPublic(serializers.Serializer):
    """What the hosted checkout sees: no merchant internals, no instrument details."""

    id = serializers.CharField()
    order_id = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    method = serializers.ChoiceField(["upi", "card"])
    status = serializers.ChoiceField(states.PaymentStatus.choices)
    error_code = serializers.CharField(allow_null=True)
    error_description = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PaymentStatusEntry(serializers.Serializer):
    status = serializers.ChoiceField(states.PaymentStatus.choices)
    timestamp = serializers.DateTimeField()
    detail = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()


class PaymentStatus(serializers.Serializer):
    payment_id = serializers.CharField()
    status = serializers.ChoiceField(states.PaymentStatus.choices)
    last_updated = serializers.DateTimeField()
    version = serializers.IntegerField()
    events = PaymentStatusEntry(many=True, help_text="the whole timeline, oldest first")


class RefundCreate(serializers.Serializer):
    amount = fields.RefundAmountField(
        required=True,
        allow_null=False,
        help_text="minor units; pending + processed refunds + this must not exceed the payment",
    )
    reason = fields.ReasonField()


class RefundCreateAlias(RefundCreate):
    payment_id = fields.IdField(required=True, allow_null=False)


class RefundCreated(serializers.Serializer):
    """The 201 answer of both refund-create paths: exactly PRODUCT.md §3's fields."""

    id = serializers.CharField(help_text="rfnd_ + 16 alphanumerics")
    payment_id = serializers.CharField()
    amount = serializers.IntegerField()
    reason = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(states.RefundStatus.choices)
    created_at = serializers.DateTimeField()


class Refund(RefundCreated):
    merchant_id = serializers.UUIDField()
    version = serializers.IntegerField()
    error_code = serializers.CharField(allow_null=True)
    error_description = serializers.CharField(allow_null=True)
    processed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class Event(serializers.Serializer):
    id = serializers.CharField(help_text="evt_ + 24 alphanumerics")
    type = serializers.CharField(help_text="payment.created, payment.success, refund.processed, ...")
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    correlation_id = serializers.CharField(allow_null=True)
    data = serializers.DictField(help_text='the resource snapshot, e.g. {"payment": {...}}')


class EventPage(serializers.Serializer):
    data = Event(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True, help_text="pass as ?after= for the next page")


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``X-Api-Key`` + ``X-Api-Secret`` (or HTTP Basic) for every API-key view."""

    target_class = "payments.api.authentication.ApiKeyAuthentication"
    name = ["ApiKey", "ApiSecret"]

    def get_security_definition(self, auto_schema: object) -> list[dict[str, str]]:
        return [
            {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            {"type": "apiKey", "in": "header", "name": "X-Api-Secret"},
        ]
