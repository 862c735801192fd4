"""Query parameters: one parser for every list endpoint. Each endpoint declares its
parameters once, as a DRF serializer; that declaration validates the request and, given
to ``extend_schema(parameters=[...])``, is the OpenAPI parameter list (types, minimum,
maximum, enum, default). A wrong type or an out-of-range value is a 400
``invalid_query`` naming the parameter, never a silent default."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from payments.api.errors import BadRequest

_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


class StrictIntegerField(serializers.IntegerField):
    """An integer that is written as one: a JSON integer in a body, ``^-?[0-9]+$`` in a
    query string. DRF's own field takes ``100.0``, ``"1e2"``-free strings with spaces
    and ``true``; an amount or a page size must not."""

    default_error_messages = {"invalid": "must be an integer"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str):
            if not _INTEGER.match(data):
                self.fail("invalid")
            data = int(data)
        return super().to_internal_value(data)


DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 10**9  # far past any real page, far below PostgreSQL's bigint OFFSET limit


class PageQuery(serializers.Serializer):
    limit = StrictIntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, help_text="page size")
    offset = StrictIntegerField(min_value=0, max_value=MAX_OFFSET, default=0, help_text="items to skip")


def _first_error(errors: dict[str, Any]) -> tuple[str, str]:
    name, messages = next(iter(errors.items()))
    message = messages[0] if isinstance(messages, list) else messages
    return name, str(message)


def query_parse(request: Request, shape: type[serializers.Serializer]) -> dict[str, Any]:
    """The query parameters ``shape`` declares, validated (unknown ones are ignored; an
    empty value counts as absent)."""
    params = request.query_params if hasattr(request, "query_params") else request.GET
    data = {name: params[name] for name in shape().fields if params.get(name, "") != ""}
    serializer = shape(data=data)
    if not serializer.is_valid():
        name, message = _first_error(serializer.errors)
        raise BadRequest(f"{name}: {message}", field=name, reason="invalid_query")
    return dict(serializer.validated_data)
