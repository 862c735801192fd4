"""Plain Django JSON views (the dashboard's ``/dashboard/api/...``) in the API's error
envelope. A view wrapped by :func:`json_view` raises the domain's refusals, and they render
exactly as the API renders them (common.http.errors.domain_error_response): a malformed body
read with :func:`common.http.shapes.parse_json_body` is the same 400 ``malformed_body``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from common.errors import DomainError
from common.http.errors import domain_error_response


def json_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Render a ``DomainError`` raised by ``view`` in the envelope, with its status and headers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return domain_error_response(exc)

    return wrapper
