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
    structured log line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with correlation_scope(request.headers.get(HEADER)) as correlation_id:
            request.correlation_id = correlation_id
            response = self.get_response(request)
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
