"""Offset pagination in the seed API's shape: ``{data, total, limit, offset}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from rest_framework.request import Request

from payments.api.http import json_response, query_int

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


MAX_OFFSET = 10**9  # far past any real page, far below PostgreSQL's bigint OFFSET limit


def page_params(request: Request) -> tuple[int, int]:
    """``limit`` (1-100, default 20) and ``offset`` (0-10⁹) or an enveloped 400 naming the field."""
    limit = query_int(request, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = query_int(request, "offset", default=0, minimum=0, maximum=MAX_OFFSET)
    return limit, offset


def paginated(request: Request, queryset: QuerySet, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    limit, offset = page_params(request)
    total = queryset.count()
    items = [render(obj) for obj in queryset[offset : offset + limit]]
    return json_response({"data": items, "total": total, "limit": limit, "offset": offset})
