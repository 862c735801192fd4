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


def paginated(request: Request, queryset: QuerySet, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    limit = query_int(request, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = query_int(request, "offset", default=0, minimum=0, maximum=10**9)
    total = queryset.count()
    items = [render(obj) for obj in queryset[offset : offset + limit]]
    return json_response({"data": items, "total": total, "limit": limit, "offset": offset})
