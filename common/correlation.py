"""Correlation ids: one id per request, echoed in ``X-Correlation-ID``, kept in a context
variable so logs, Celery tasks, events and webhook deliveries can carry it."""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)
request_logger = logging.getLogger("tender.request")


def get_correlation_id() -> str | None:
    return _current.get()


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    """Run a block with ``correlation_id`` (or a fresh one) as the current id."""
    value = correlation_id if correlation_id and _VALID.match(correlation_id) else new_correlation_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


class CorrelationIdMiddleware:
    """Echoes a well-formed client ``X-Correlation-ID`` or mints one, and writes one
    structured log line per request. Sync and async: under ASGI an async view (the
    long-poll) awaits in the event loop instead of pinning a thread for its whole wait."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        with correlation_scope(request.headers.get(HEADER)) as correlation_id:
            request.correlation_id = correlation_id
            return self._finish(request, self.get_response(request), correlation_id, started)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with correlation_scope(request.headers.get(HEADER)) as correlation_id:
            request.correlation_id = correlation_id
            return self._finish(request, await self.get_response(request), correlation_id, started)

    @staticmethod
    def _finish(request: HttpRequest, response: HttpResponse, correlation_id: str, started: float) -> HttpResponse:
        response[HEADER] = correlation_id
        request_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "merchant_id": getattr(request, "merchant_id_for_log", None),
            },
        )
        return response


class CorrelationIdLogFilter(logging.Filter):
    """Adds ``correlation_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get()
        return True
