"""Request/response plumbing shared by the payments API views (kept out of DRF's slower
parsers and renderers on purpose: the create path renders a plain dict once, and that
exact byte string is what an idempotent replay returns)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request

from common.errors import InvalidInput
from common.http.inputs import JSON, json_body
from payments.models import Merchant
from payments.services.idempotency import idempotency_key_validate, idempotency_request_hash, idempotent_execute
from payments.validation import require_object


def api_key_actor(request: Request) -> str:
    """The audit actor for a call made with an API key."""
    return f"api_key:{getattr(request.auth, 'key_id', 'unknown')}"


def render(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(render(data), status=status, content_type=JSON)


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


def validated(shape: type[serializers.Serializer], body: Any, *, partial: bool = False) -> dict[str, Any]:
    """``body`` through the endpoint's request serializer: the validated values of the
    fields sent, or the first error as an enveloped 400. The body must be a JSON object of
    declared fields only: an unknown field is a 400 ``unknown_field`` (a typo such as
    ``ammount`` must not pass silently, and the schema can then say what it accepts)."""
    body = require_object(body)
    _json_type_check(_fields_of(shape), body)
    if partial or not _runs_plain(shape):
        serializer = shape(data=body, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        fields = serializer.fields
    else:
        fields = _fields_of(shape)
        data = {}
        for name, field in fields.items():
            if field.read_only:
                continue
            try:
                value = field.run_validation(field.get_value(body))
            except serializers.SkipField:
                continue
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({name: exc.detail}) from None
            data[field.source] = value
    unknown = body.keys() - fields.keys()
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"{name} is not a field of this request", field=name[:64], reason="unknown_field")
    return data


def parse_json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object under the input layer's rules, or an enveloped
    400/413/415 (nothing is written). An empty body is ``{}``; ``null`` is not an object."""
    return require_object(json_body(request, empty={}))


def mutate(
    request: Request,
    *,
    merchant: Merchant,
    body: dict[str, Any],
    action: Callable[[], tuple[int, dict[str, Any]]],
    key_namespace: str = "",
) -> HttpResponse:
    """Run a mutating ``action`` (returns status + plain dict) under the optional
    ``Idempotency-Key`` of ``merchant``; error responses propagate as ``ApiError``.
    ``key_namespace`` keeps keys sent by customers' browsers (the public checkout) apart
    from the merchant's own keys."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, data = action()
        return json_response(data, status=status)
    key = idempotency_key_validate(key_namespace + key)

    def handler() -> tuple[int, bytes]:
        status, data = action()
        return status, render(data)

    result = idempotent_execute(
        merchant=merchant,
        key=key,
        method=request.method,
        path=request.path,
        request_hash=idempotency_request_hash(method=request.method, path=request.path, body=body),
        handler=handler,
    )
    response = HttpResponse(result.body, status=result.status, content_type=JSON)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def optional_str(body: dict[str, Any], name: str) -> str | None:
    """``body[name]`` if it is a string or absent/null; else an enveloped 400."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name, reason="invalid_type")
    return value
