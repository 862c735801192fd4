"""DRF serializers of the customers API: the one definition that validates the input
and documents it in the OpenAPI schema. Card and VPA fields are payment create's own
(:mod:`payments.api.fields`: exact codes INVALID_CARD / EXPIRED_CARD / INVALID_VPA and reasons)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from payments.api.customer_shapes import CustomerCreate
from payments.api.fields import CardField, VpaField
from payments.models import CardNetwork


class CustomerUpdate(CustomerCreate):
    """Only the fields sent change."""


class Customer(serializers.Serializer):
    id = serializers.CharField(help_text="cust_ + 16 alphanumerics")
    email = serializers.EmailField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    locale = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PaymentMethodCreate(serializers.Serializer):
    type = serializers.ChoiceField(["card", "upi"])
    card = CardField(required=False, help_text="type card: tokenised by the provider, never stored")
    vpa = VpaField(required=False, help_text="type upi: name@bank")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        needed = "card" if attrs["type"] == "card" else "vpa"
        if attrs.get(needed) is None:
            raise serializers.ValidationError(
                {needed: f"{needed} is required for type {attrs['type']}"}, code="required"
            )
        return attrs


class PaymentMethod(serializers.Serializer):
    id = serializers.CharField(help_text="pm_ + 16 alphanumerics")
    customer_id = serializers.CharField()
    type = serializers.ChoiceField(["card", "upi"])
    card_network = serializers.ChoiceField(CardNetwork.values, required=False, help_text="type card only")
    card_last4 = serializers.CharField(required=False, help_text="type card only")
    expiry_month = serializers.IntegerField(required=False, help_text="type card only")
    expiry_year = serializers.IntegerField(required=False, help_text="type card only, 4 digits")
    vpa = serializers.CharField(required=False, help_text="type upi only")
    fingerprint = serializers.CharField(help_text="keyed hash: equal for the same card or VPA of this merchant")
    created_at = serializers.DateTimeField()
    deleted_at = serializers.DateTimeField(allow_null=True)
