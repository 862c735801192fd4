"""OpenAPI shapes for drf-spectacular. Documentation only: the views validate with
:mod:`payments.validation` and render plain dicts from :mod:`payments.snapshots`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Merchant-scoped key kept 24 h: a retry returns the stored response byte for byte.",
)

Error = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "description": serializers.CharField(),
                "field": serializers.CharField(allow_null=True),
                "reason": serializers.CharField(allow_null=True),
                "correlation_id": serializers.CharField(),
            },
        )
    },
)


class OrderCreateRequest(serializers.Serializer):
    amount = serializers.IntegerField(min_value=100, help_text="minor units")
    currency = serializers.CharField(default="INR")
    receipt = serializers.CharField(required=False, allow_null=True)
    notes = serializers.DictField(child=serializers.CharField(), required=False)
    callback_url = serializers.URLField(
        required=False, allow_null=True, help_text="http(s); the checkout returns the browser here"
    )


class Order(serializers.Serializer):
    id = serializers.CharField()
    merchant_id = serializers.UUIDField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    receipt = serializers.CharField(allow_null=True)
    notes = serializers.DictField()
    callback_url = serializers.URLField(allow_null=True)
    status = serializers.ChoiceField(["created", "attempted", "paid"])
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderPublic(serializers.Serializer):
    id = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()


class CardRequest(serializers.Serializer):
    number = serializers.CharField()
    expiry_month = serializers.IntegerField()
    expiry_year = serializers.IntegerField()
    cvv = serializers.CharField()
    holder_name = serializers.CharField(required=False)


class PaymentCreateRequest(serializers.Serializer):
    order_id = serializers.CharField(required=False)
    amount = serializers.IntegerField(required=False, help_text="without order_id: creates the order")
    currency = serializers.CharField(required=False)
    method = serializers.ChoiceField(["upi", "card"])
    vpa = serializers.CharField(required=False)
    card = CardRequest(required=False)
    callback_url = serializers.URLField(required=False)


class PublicPaymentCreateRequest(serializers.Serializer):
    order_id = serializers.CharField()
    method = serializers.ChoiceField(["upi", "card"])
    vpa = serializers.CharField(required=False)
    card = CardRequest(required=False)


class Payment(serializers.Serializer):
    id = serializers.CharField()
    order_id = serializers.CharField()
    merchant_id = serializers.UUIDField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    method = serializers.CharField()
    vpa = serializers.CharField(required=False)
    card_network = serializers.CharField(required=False)
    card_last4 = serializers.CharField(required=False)
    status = serializers.ChoiceField(["pending", "success", "failed", "cancelled"])
    captured = serializers.BooleanField()
    error_code = serializers.CharField(allow_null=True)
    error_description = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PaymentStatusEntry(serializers.Serializer):
    status = serializers.CharField()
    timestamp = serializers.DateTimeField()
    detail = serializers.CharField()
    version = serializers.IntegerField()


class PaymentStatus(serializers.Serializer):
    payment_id = serializers.CharField()
    status = serializers.CharField()
    last_updated = serializers.DateTimeField()
    version = serializers.IntegerField()
    events = PaymentStatusEntry(many=True)


class RefundCreateRequest(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(required=False)


class RefundCreateAliasRequest(RefundCreateRequest):
    payment_id = serializers.CharField()


class Refund(serializers.Serializer):
    id = serializers.CharField()
    payment_id = serializers.CharField()
    amount = serializers.IntegerField()
    reason = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(["pending", "processed", "failed"])
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)


class Event(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    data = serializers.DictField()


class EventPage(serializers.Serializer):
    data = Event(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


def page_of(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "data": item(many=True),
            "total": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(),
        },
    )


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``X-Api-Key`` + ``X-Api-Secret`` (or HTTP Basic) for every API-key view."""

    target_class = "payments.api.authentication.ApiKeyAuthentication"
    name = ["ApiKey", "ApiSecret"]

    def get_security_definition(self, auto_schema: object) -> list[dict[str, str]]:
        return [
            {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            {"type": "apiKey", "in": "header", "name": "X-Api-Secret"},
        ]
