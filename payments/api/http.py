"""What the payments API adds to common.http: the audit actor of an API key and
:func:`mutate`, the ``Idempotency-Key`` wrapper of every mutating call (it stores the
rendered bytes, so a replay answers byte for byte)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from common.http.inputs import JSON
from common.http.responses import json_response, render
from payments.models import Merchant
from payments.services.idempotency import idempotency_key_validate, idempotency_request_hash, idempotent_execute

__all__ = ["api_key_actor", "json_response", "mutate"]  # json_response: provider_webhooks imports it from here


def api_key_actor(request: Request) -> str:
    """The audit actor for a call made with an API key."""
    return f"api_key:{getattr(request.auth, 'key_id', 'unknown')}"


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
