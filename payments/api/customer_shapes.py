"""The customer's own input shape, apart from the other customer serializers so that the
order's schema can nest it (payments.api.schema imports this; customer_serializers
imports the schema)."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from rest_framework import serializers

E164 = r"^\+[1-9][0-9]{6,14}$"


def _locale_validate(value: str) -> None:
    try:
        Locale.parse(value, sep="-")
    except (UnknownLocaleError, ValueError):
        raise serializers.ValidationError("not a known locale (BCP 47, e.g. en-IN)", code="invalid_locale") from None


class CustomerCreate(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_null=True, max_length=254, help_text="receipts go here")
    name = serializers.CharField(required=False, allow_null=True, max_length=255)
    phone = serializers.RegexField(
        E164, required=False, allow_null=True, help_text="E.164 (+919876543210); SMS receipts go here"
    )
    locale = serializers.CharField(
        required=False,
        max_length=16,
        validators=[_locale_validate],
        help_text="BCP 47, default en-IN: how amounts and times are written in receipts",
    )
