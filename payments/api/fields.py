"""Serializer fields of the payments API whose rule lives in :mod:`payments.validation`.

Each field runs the validator (so the envelope keeps its codes: ``INVALID_VPA``,
``INVALID_CARD``, ``EXPIRED_CARD``, and reasons such as ``amount_too_small``) and declares,
next to it and from the same constants, the OpenAPI schema of what that validator accepts.
A request serializer built from these fields is therefore both the validation of its
endpoint and its documentation: there is no second description to drift.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments import validation
from payments.models import MIN_ORDER_AMOUNT, PaymentMethod
from payments.money import CURRENCY_EXPONENTS

# Strings the input layer accepts: no NUL (PostgreSQL cannot store it).
NO_NUL = "^[^\\u0000]*$"
CALLBACK_URL_PATTERN = "^https?://[^\\u0000-\\u0020/?#]+[^\\u0000-\\u0020]*$"


class _ValidatorField(serializers.Field):
    """A field whose value is what ``validate`` returns; ``None`` passes through to the
    service, which decides whether the field was required."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate(self, value: Any) -> Any:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        return self.validate(data)

    def to_representation(self, value: Any) -> Any:
        return value


def amount_schema(minimum: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": minimum,
        "maximum": validation.MAX_AMOUNT,
        "description": 'integer minor units (a JSON integer: 500.0, 5e2 and "500" are refused)',
    }


@extend_schema_field(amount_schema(MIN_ORDER_AMOUNT))
class AmountField(_ValidatorField):
    def validate(self, value: Any) -> int:
        return validation.validate_amount(value, field_name=self.field_name)


@extend_schema_field(amount_schema(1))
class RefundAmountField(_ValidatorField):
    def validate(self, value: Any) -> int:
        return validation.validate_amount(value, field_name=self.field_name, minimum=1)


@extend_schema_field({"type": "string", "enum": sorted(CURRENCY_EXPONENTS), "description": "ISO 4217, default INR"})
class CurrencyField(_ValidatorField):
    def validate(self, value: Any) -> str:
        return validation.validate_currency(value)


@extend_schema_field({"type": "string", "maxLength": validation.MAX_RECEIPT_LENGTH, "pattern": NO_NUL})
class ReceiptField(_ValidatorField):
    def validate(self, value: Any) -> str | None:
        return validation.validate_receipt(value)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": validation.MAX_NOTES_KEYS,
        "additionalProperties": {
            "oneOf": [
                {"type": "string", "maxLength": validation.MAX_NOTE_VALUE_LENGTH, "pattern": NO_NUL},
                {"type": "integer"},
            ]
        },
        "description": f"at most {validation.MAX_NOTES_KEYS} keys; string (or integer) values",
    }
)
class NotesField(_ValidatorField):
    def validate(self, value: Any) -> dict[str, str]:
        return validation.validate_notes(value)


@extend_schema_field({"type": "string", "maxLength": 2048, "pattern": CALLBACK_URL_PATTERN, "format": "uri"})
class CallbackUrlField(_ValidatorField):
    def validate(self, value: Any) -> str | None:
        return validation.validate_callback_url(value)


@extend_schema_field({"type": "string", "enum": list(PaymentMethod.values)})
class MethodField(_ValidatorField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", True)
        kwargs.setdefault("allow_null", False)
        super().__init__(**kwargs)

    def validate(self, value: Any) -> str:
        return validation.validate_method(value)


@extend_schema_field(
    {
        "type": "string",
        "maxLength": validation.MAX_VPA_LENGTH,
        "pattern": validation.VPA_RE.pattern,
        "description": "UPI address name@bank; required for method upi",
    }
)
class VpaField(_ValidatorField):
    def validate(self, value: Any) -> str:
        return validation.validate_vpa(value)


_CARD_NUMBER = "^[ -]*(?:[0-9][ -]*){13,19}$"
_MONTH_TEXT = "^(?:0{0,3}[1-9]|0{0,2}1[0-2])$"


@extend_schema_field(
    {
        "type": "object",
        "required": ["number", "expiry_month", "expiry_year", "cvv"],
        "properties": {
            "number": {
                "type": "string",
                "pattern": _CARD_NUMBER,
                "description": "13-19 digits (spaces and dashes ignored), Luhn-valid; never stored",
            },
            "expiry_month": {
                "oneOf": [{"type": "integer", "minimum": 1, "maximum": 12}, {"type": "string", "pattern": _MONTH_TEXT}],
                "description": "1-12, a number or a digit string",
            },
            "expiry_year": {
                "oneOf": [
                    {"type": "integer", "minimum": 10, "maximum": 99},
                    {"type": "integer", "minimum": 1000, "maximum": 9999},
                    {"type": "string", "pattern": "^(?:[0-9]{2}|[0-9]{4})$"},
                ],
                "description": "2 or 4 digits (25 = 2025); valid through the end of its month",
            },
            "cvv": {"type": "string", "pattern": "^[0-9]{3,4}$", "description": "3 or 4 digits; never stored"},
            "holder_name": {
                "type": "string",
                "nullable": True,
                "maxLength": validation.MAX_HOLDER_NAME_LENGTH,
                "pattern": NO_NUL,
            },
        },
        "description": "required for method card; validated whenever sent",
    }
)
class CardField(_ValidatorField):
    def validate(self, value: Any) -> validation.CardDetails:
        return validation.validate_card(value, now=timezone.now())


@extend_schema_field({"type": "string", "maxLength": validation.MAX_REASON_LENGTH, "pattern": NO_NUL})
class ReasonField(_ValidatorField):
    def validate(self, value: Any) -> str | None:
        return validation.validate_reason(value)


@extend_schema_field({"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_]{1,64}$"})
class IdField(_ValidatorField):
    """An object id sent in a body (``order_id``, ``payment_id``)."""

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            raise validation.InvalidInput(
                f"{self.field_name} must be a string", field=self.field_name, reason="invalid_type"
            )
        return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``. DRF's own field also takes ``0``, ``1``, ``"yes"`` and
    ``"off"``, which the schema (``type: boolean``) calls invalid."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
