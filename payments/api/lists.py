"""Offset pagination in the seed API's shape: ``{data, total, limit, offset}``; its
parameters are :class:`common.http.query.PageQuery` (or a subclass that adds filters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from rest_framework.request import Request

from common.http.query import PageQuery, query_parse
from payments.api.http import json_response


def page_params(request: Request) -> tuple[int, int]:
    """``limit`` (1-100, default 20) and ``offset`` (0-10⁹) or an enveloped 400 naming the field."""
    page = query_parse(request, PageQuery)
    return page["limit"], page["offset"]


def page_render(queryset: QuerySet, *, limit: int, offset: int, render: Callable[[Any], dict[str, Any]]) -> dict:
    return {
        "data": [render(obj) for obj in queryset[offset : offset + limit]],
        "total": queryset.count(),
        "limit": limit,
        "offset": offset,
    }


def paginated(request: Request, queryset: QuerySet, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    limit, offset = page_params(request)
    return json_response(page_render(queryset, limit=limit, offset=offset, render=render))
