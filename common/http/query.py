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

from common.errors import InvalidInput

_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


class StrictIntegerField(serializers.IntegerField):
    """An integer that is written as one: a JSON integer in a body, ``^-?[0-9]+$`` in a
    query string. DRF's own field takes ``100.0``, ``"1e2"``-free strings with spaces
    and ``true``; an amount or a page size must not."""

    default_error_messages = {"invalid": "must be an integer"}

    def __init__(self, *, reason: str | None = None, **kwargs: Any) -> None:
        """``reason``: the envelope reason of every failure of this field, where the API had
        one before it was declared here (``invalid_grace_period``)."""
        self.reason = reason
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if self.reason is None:
                raise
            detail = exc.detail[0] if isinstance(exc.detail, list) else exc.detail
            raise serializers.ValidationError(str(detail), code=self.reason) from None

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str):
            if not _INTEGER.match(data):
                self.fail("invalid")
            data = int(data)
        return super().to_internal_value(data)


class QueryText(serializers.CharField):
    """A text filter or cursor: taken as sent (no trimming, so a value the schema calls
    non-empty is never emptied), at most 64 characters (ids, types, cursors)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


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


def query_validate(shape: type[serializers.Serializer], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (parameter name to text) through ``shape``; the first error as a 400."""
    serializer = shape(data=data)
    if not serializer.is_valid():
        name, message = _first_error(serializer.errors)
        raise InvalidInput(f"{name}: {message}", field=name, reason="invalid_query")
    return dict(serializer.validated_data)


def query_parse(request: Request, shape: type[serializers.Serializer]) -> dict[str, Any]:
    """The query parameters ``shape`` declares, validated. Unknown ones are ignored; an
    empty value is a value (``status=`` is not a status, ``limit=`` not a number)."""
    params = request.query_params if hasattr(request, "query_params") else request.GET
    return query_validate(shape, {name: params[name] for name in shape().fields if name in params})
