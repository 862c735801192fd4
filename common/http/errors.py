"""The error envelope. Every error the API produces, from validation to a crash, renders as
``{"error": {"code", "description", "field", "reason", "correlation_id"}}`` with a stable code.

The domain raises the kinds of :mod:`common.errors`; this module alone decides their HTTP status
(:data:`STATUS_BY_KIND`). :class:`ApiError` is for refusals only the HTTP layer makes (credentials,
rate limits, body size, methods); DRF's own exceptions are translated here too.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error
from psycopg_pool import PoolTimeout, TooManyRequests
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from common.correlation import get_correlation_id
from common.errors import (
    AUTHENTICATION_ERROR,
    BAD_REQUEST_ERROR,
    NOT_FOUND_ERROR,
    RATE_LIMIT_ERROR,
    SERVER_ERROR,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)

logger = logging.getLogger("tender.api")

# Seconds an overloaded client is asked to wait (503 when no database connection is free).
OVERLOAD_RETRY_AFTER_SECONDS = 1
METHOD_NOT_ALLOWED = "BAD_REQUEST_ERROR"  # the seed API has no 405 code; reason says it

# The HTTP status of each domain refusal, most specific kind first.
STATUS_BY_KIND: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (Unavailable, 503),
    (InvalidInput, 400),
    (DomainError, 400),
)


class ApiError(DomainError):
    """A refusal only the HTTP layer makes, with its own status and headers."""

    status_code = 400

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(description, **kwargs)
        if status is not None:
            self.status_code = status
        self.headers = headers or {}


def http_status(exc: DomainError) -> int:
    """The status a domain refusal (or an :class:`ApiError`) renders with."""
    if isinstance(exc, ApiError):
        return exc.status_code
    return next(status for kind, status in STATUS_BY_KIND if isinstance(exc, kind))


def http_headers(exc: DomainError) -> dict[str, str]:
    """The headers a refusal renders with: ``Retry-After`` for a transient one, plus an
    :class:`ApiError`'s own."""
    headers = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds is not None else {}
    headers.update(getattr(exc, "headers", {}))
    return headers


def domain_error_response(exc: DomainError) -> JsonResponse:
    """A plain Django view's answer to a refusal: the same envelope, status and headers as the API's."""
    response = JsonResponse(
        envelope(exc.code, exc.description, field=exc.field, reason=exc.reason), status=http_status(exc)
    )
    for name, value in http_headers(exc).items():
        response[name] = value
    return response


def envelope(
    code: str,
    description: str,
    *,
    field: str | None = None,
    reason: str | None = None,
) -> dict[str, dict[str, Any]]:
    return {
        "error": {
            "code": code,
            "description": description,
            "field": field,
            "reason": reason,
            "correlation_id": get_correlation_id(),
        }
    }


def database_overloaded(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) means no database connection was available:
    the process's pool stayed empty for DB_POOL_TIMEOUT, or PostgreSQL refused a new client
    (SQLSTATE 53300). The request changed nothing; the client should retry shortly."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout | TooManyRequests) or getattr(seen, "sqlstate", None) == "53300":
            return True
        if "too many clients" in str(seen) or "remaining connection slots" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def overloaded_body() -> dict[str, dict[str, Any]]:
    return envelope(SERVER_ERROR, "The gateway is overloaded; retry shortly", reason="overloaded")


def _first_validation_error(detail: Any, prefix: str = "") -> tuple[str | None, str, str | None]:
    """Flatten DRF's nested validation detail into (field, message, error code)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else None
            dotted = f"{prefix}.{name}" if prefix and name else (name or prefix or None)
            return _first_validation_error(value, dotted or "")
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], prefix)
    code = getattr(detail, "code", None)
    return (prefix or None), str(detail), code


def invalid_input(exc: drf_exceptions.ValidationError) -> InvalidInput:
    """A serializer's refusal as the domain's: its first error, the field dotted
    (``card.cvv``) and DRF's error code as the reason (``required``, ``max_length``)."""
    field, message, error_code = _first_validation_error(exc.detail)
    if field and message.startswith("This field"):
        message = f"{field}: {message[0].lower()}{message[1:]}"
    return InvalidInput(message, field=field, reason=error_code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: maps every exception to the envelope."""
    if isinstance(exc, drf_exceptions.ValidationError):
        exc = invalid_input(exc)
    if isinstance(exc, DomainError):
        return Response(
            envelope(exc.code, exc.description, field=exc.field, reason=exc.reason),
            status=http_status(exc),
            headers=http_headers(exc),
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(envelope(BAD_REQUEST_ERROR, str(exc.detail), reason="malformed_body"), status=400)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response(envelope(BAD_REQUEST_ERROR, str(exc.detail), reason="unsupported_media_type"), status=415)
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return Response(
            envelope(AUTHENTICATION_ERROR, str(exc.detail), reason="invalid_credentials"),
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="tender"'},
        )
    if isinstance(exc, drf_exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))  # never invite a retry before the window ends
        return Response(
            envelope(RATE_LIMIT_ERROR, "Too many requests", reason="rate_limited"),
            status=429,
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Response(envelope(METHOD_NOT_ALLOWED, str(exc.detail), reason="method_not_allowed"), status=405)
    if isinstance(exc, (Http404, drf_exceptions.NotFound)):
        return Response(envelope(NOT_FOUND_ERROR, "The requested resource does not exist"), status=404)
    if isinstance(exc, (PermissionDenied, drf_exceptions.PermissionDenied)):
        # Cross-tenant access is indistinguishable from absence.
        return Response(envelope(NOT_FOUND_ERROR, "The requested resource does not exist"), status=404)
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return Response(envelope(BAD_REQUEST_ERROR, str(exc.detail), reason="not_acceptable"), status=406)
    if isinstance(exc, drf_exceptions.APIException):
        return Response(envelope(BAD_REQUEST_ERROR, str(exc.detail)), status=exc.status_code)
    if database_overloaded(exc):
        logger.warning("no database connection available: 503", extra={"view": type(context.get("view")).__name__})
        return Response(overloaded_body(), status=503, headers={"Retry-After": str(OVERLOAD_RETRY_AFTER_SECONDS)})
    logger.exception("unhandled API error", extra={"view": type(context.get("view")).__name__})
    return Response(envelope(SERVER_ERROR, "Internal server error"), status=500)


def json_error(code: str, description: str, status: int, *, reason: str | None = None) -> JsonResponse:
    return JsonResponse(envelope(code, description, reason=reason), status=status)


@csrf_exempt  # an unknown URL is a 404 for every method, never the CSRF failure page
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown URLs under /api/."""
    return json_error(NOT_FOUND_ERROR, f"No endpoint {request.method} {request.path}", 404, reason="unknown_endpoint")


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    if request.path.startswith("/api/"):
        return json_error(SERVER_ERROR, "Internal server error", 500)
    return server_error(request)
