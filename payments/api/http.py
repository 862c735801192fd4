"""Request/response plumbing shared by the payments API views (kept out of DRF's slower
parsers and renderers on purpose: the create path renders a plain dict once, and that
exact byte string is what an idempotent replay returns)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.request import Request

from payments.api.errors import BAD_REQUEST_ERROR, ApiError, BadRequest
from payments.models import Merchant
from payments.services.idempotency import idempotency_key_validate, idempotency_request_hash, idempotent_execute
from payments.validation import require_object

JSON = "application/json"


def render(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(render(data), status=status, content_type=JSON)


def _too_large() -> ApiError:
    return ApiError(
        f"Request body exceeds {settings.API_MAX_BODY_BYTES} bytes",
        code=BAD_REQUEST_ERROR,
        status=413,
        reason="body_too_large",
    )


def raw_body(request: Request) -> bytes:
    """The request body, refused with 413 above ``API_MAX_BODY_BYTES`` before reading it
    when the client declares its length."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise _too_large()
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _too_large() from None
    if len(raw) > settings.API_MAX_BODY_BYTES:
        raise _too_large()
    return raw


def parse_json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or an enveloped 400/413/415 (nothing is written)."""
    raw = raw_body(request)
    content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if not raw.strip():
        return {}
    if content_type and content_type != JSON and not content_type.endswith("+json"):
        raise ApiError(
            f"Unsupported media type {content_type!r}; send application/json",
            status=415,
            reason="unsupported_media_type",
        )
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("Malformed JSON body", reason="malformed_body") from None
    return require_object(body)


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


def query_int(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer", field=name, reason="invalid_query") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}", field=name, reason="invalid_query")
    return value
