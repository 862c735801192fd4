"""Request bodies: one DRF serializer per endpoint (its *shape*) validates the body and, given
to ``extend_schema(request=...)``, is the OpenAPI schema of that body. A view reads its body
with :func:`parse_json_body` (the input layer's JSON rules, ``{}`` for no body) and passes it
through :func:`validated`; every refusal is an :class:`~common.errors.InvalidInput`, so the
API's exception handler and a plain Django view (:func:`common.http.views.json_view`) render
the same 400 envelope."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest
from rest_framework import serializers

from common.errors import InvalidInput
from common.http.errors import invalid_input
from common.http.inputs import json_body


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object", reason="invalid_body")
    return body


def parse_json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object under the input layer's rules, or an enveloped
    400/413/415 (nothing is written). An empty body is ``{}``; ``null`` is not an object;
    malformed JSON is 400 ``malformed_body``."""
    return require_object(json_body(request, empty={}))


@functools.cache
def _fields_of(shape: type[serializers.Serializer]) -> dict[str, serializers.Field]:
    """The bound fields of ``shape``, built once. DRF deep-copies every declared field for
    every serializer instance (about 60 % of validating a payment create); the fields hold no
    per-request state while they validate, so one bound set serves every request."""
    return dict(shape().fields)


def _runs_plain(shape: type[serializers.Serializer]) -> bool:
    """No serializer-level ``validate``, ``validate_<field>`` or validators: the field loop
    below is then all that DRF's ``is_valid`` would do."""
    meta = getattr(shape, "Meta", None)
    return (
        shape.validate is serializers.Serializer.validate
        and not getattr(meta, "validators", None)
        and not any(hasattr(shape, f"validate_{name}") for name in _fields_of(shape))
    )


# The JSON type each kind of DRF field stands for. DRF coerces (a CharField takes 5 as "5",
# a BooleanField takes 0 and "yes"); the schema says "string"/"boolean", so the server must
# refuse what the schema refuses.
_JSON_TYPES: tuple[tuple[type[serializers.Field], type | tuple[type, ...], str], ...] = (
    (serializers.BooleanField, bool, "a boolean"),
    (serializers.CharField, str, "a string"),
)  # the others (lists, objects, integers, date-times) already refuse another JSON type


def _json_type_check(fields: dict[str, serializers.Field], body: dict[str, Any]) -> None:
    for name, value in body.items():
        field = fields.get(name)
        if field is None or value is None:
            continue
        for kind, json_type, label in _JSON_TYPES:
            if isinstance(field, kind):
                if not isinstance(value, json_type) or (json_type is not bool and isinstance(value, bool)):
                    raise InvalidInput(f"{name} must be {label}", field=name, reason="invalid_type")
                break


def _run_fields(fields: dict[str, serializers.Field], body: dict[str, Any]) -> dict[str, Any]:
    data = {}
    for name, field in fields.items():
        if field.read_only:
            continue
        try:
            value = field.run_validation(field.get_value(body))
        except serializers.SkipField:
            continue
        except serializers.ValidationError as exc:
            raise invalid_input(serializers.ValidationError({name: exc.detail})) from None
        data[field.source] = value
    return data


def validated(shape: type[serializers.Serializer], body: Any, *, partial: bool = False) -> dict[str, Any]:
    """``body`` through the endpoint's request serializer: the validated values of the
    fields sent, or the first error as ``InvalidInput`` (an enveloped 400). The body must be
    a JSON object of declared fields only: an unknown field is a 400 ``unknown_field`` (a
    typo such as ``ammount`` must not pass silently, and the schema can then say what it
    accepts)."""
    body = require_object(body)
    _json_type_check(_fields_of(shape), body)
    if partial or not _runs_plain(shape):
        serializer = shape(data=body, partial=partial)
        if not serializer.is_valid():
            raise invalid_input(serializers.ValidationError(serializer.errors))
        data = dict(serializer.validated_data)
        fields = serializer.fields
    else:
        fields = _fields_of(shape)
        data = _run_fields(fields, body)
    unknown = body.keys() - fields.keys()
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"{name} is not a field of this request", field=name[:64], reason="unknown_field")
    return data
