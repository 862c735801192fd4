"""DRF serializers of the batch API: they validate (the envelope once, each item on its
own so one bad item is a rejection, not a 400) and are the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.http.pagination import page_of
from common.http.query import PageQuery, StrictIntegerField
from payments.api import schema
from payments.api.customer_serializers import VpaField
from payments.api.fields import CallbackUrlField
from payments.money import is_currency
from payments.services.batches import MAX_BATCH_ITEMS
from payments.validation import MAX_AMOUNT

REFERENCE = r"^[A-Za-z0-9._:/-]{1,64}$"


def _currency_validate(value: str) -> None:
    if not is_currency(value):
        raise serializers.ValidationError("currency must be an ISO 4217 code such as INR", code="invalid_currency")


class BatchItem(serializers.Serializer):
    reference = serializers.RegexField(
        REFERENCE, help_text="yours, unique among your payments: 1-64 of A-Z a-z 0-9 . _ : / -"
    )
    order_id = serializers.CharField(required=False, max_length=32, help_text="an order of yours that is not paid")
    amount = StrictIntegerField(
        required=False, min_value=100, max_value=MAX_AMOUNT, help_text="minor units, without order_id"
    )
    currency = serializers.CharField(
        required=False, min_length=3, max_length=3, validators=[_currency_validate], help_text="ISO 4217, default INR"
    )
    # A pattern, not a one-value enum: drf-spectacular would name it after "method" and collide.
    method = serializers.RegexField(r"^upi$", required=False, help_text="upi (cards only as a payment_method_id)")
    vpa = VpaField(required=False)
    payment_method_id = serializers.CharField(required=False, max_length=32, help_text="a saved card or VPA (pm_…)")
    customer_id = serializers.CharField(required=False, max_length=32, help_text="who pays (receipts)")

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and "card" in data:
            raise serializers.ValidationError(
                {"card": ["card numbers are never accepted in a batch: save the card, send its payment_method_id"]},
                code="card_not_allowed",
            )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("order_id" in attrs) == ("amount" in attrs):
            raise serializers.ValidationError({"order_id": ["send order_id or amount (+ currency)"]}, code="required")
        if ("vpa" in attrs) == ("payment_method_id" in attrs):
            raise serializers.ValidationError({"vpa": ["send vpa (method upi) or payment_method_id"]}, code="required")
        return attrs


@extend_schema_field(BatchItem(many=True))
class ItemsField(serializers.ListField):
    """The items as sent (each is validated on its own by :class:`BatchItem`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.JSONField(), min_length=1, max_length=MAX_BATCH_ITEMS, **kwargs)


class BatchCreate(serializers.Serializer):
    reference = serializers.RegexField(
        REFERENCE, help_text="the batch's idempotency: the same reference is the same batch"
    )
    items = ItemsField(help_text=f"1-{MAX_BATCH_ITEMS} items")
    callback_url = CallbackUrlField(help_text="http(s); set on every payment (the checkout's return URL)")


class ItemError(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class Rejected(serializers.Serializer):
    index = serializers.IntegerField(help_text="position in items, from 0")
    reference = serializers.CharField(allow_null=True)
    error = ItemError()


class BatchAccepted(serializers.Serializer):
    id = serializers.CharField(help_text="batch_ + 16 alphanumerics")
    reference = serializers.CharField()
    status = serializers.ChoiceField(["processing", "completed"])
    total = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text="items that became pending payments")
    rejected = Rejected(many=True)
    created_at = serializers.DateTimeField()


class Batch(serializers.Serializer):
    id = serializers.CharField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(["processing", "completed"])
    total = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected_count = serializers.IntegerField()
    success_count = serializers.IntegerField()
    failed_count = serializers.IntegerField(help_text="failed, cancelled or duplicate (refunded)")
    pending_count = serializers.IntegerField()
    callback_url = serializers.URLField(allow_null=True)
    version = serializers.IntegerField(help_text="1 while processing, 2 once completed")
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    payments = page_of("BatchPaymentPage", schema.Payment)


class BatchQuery(PageQuery):
    """Pages through the batch's payments (ordered by item reference)."""
