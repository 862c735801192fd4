"""Offset pagination, the one shape of every list: ``{data, total, limit, offset}``. Its
parameters are :class:`common.http.query.PageQuery` (or a subclass that adds filters, parsed
with :func:`common.http.query.query_parse`): ``limit`` 1-100 and ``offset`` 0-10⁹, anything
else (``limit=0``, ``limit=y``) a 400 ``invalid_query`` naming the parameter. :func:`page_of`
is the schema of the answer, so the list's documentation and its rendering live together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from common.http.query import PageQuery, query_parse
from common.http.responses import json_response


def page_params(request: HttpRequest) -> tuple[int, int]:
    """``limit`` and ``offset`` of a list without filters, or an enveloped 400 naming the field."""
    page = query_parse(request, PageQuery)
    return page["limit"], page["offset"]


def page_render(
    queryset: QuerySet,
    *,
    limit: int,
    offset: int,
    render: Callable[[Any], dict[str, Any]] | None = None,
    render_rows: Callable[[Sequence[Any]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """One page of ``queryset``: each row through ``render``, or the page's rows at once through
    ``render_rows`` (for a rendering that reads something per page, such as counts)."""
    rows = list(queryset[offset : offset + limit])
    return {
        "data": render_rows(rows) if render_rows is not None else [render(row) for row in rows],  # type: ignore[misc]
        "total": queryset.count(),
        "limit": limit,
        "offset": offset,
    }


def paginated(request: HttpRequest, queryset: QuerySet, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    """The whole answer of a list without filters."""
    limit, offset = page_params(request)
    return json_response(page_render(queryset, limit=limit, offset=offset, render=render))


def page_of(name: str, item: serializers.Serializer | type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of a page of ``item`` (a serializer class, or a field such as DictField)."""
    data = item(many=True) if isinstance(item, type) else serializers.ListField(child=item)
    return inline_serializer(
        name,
        {
            "data": data,
            "total": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(),
        },
    )
