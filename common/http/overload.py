"""503 + Retry-After instead of a 500 when no database connection is free.

The API's own views get this from the DRF exception handler (common.http.errors); this
middleware covers everything else Django serves (pages, /health, the async long-poll), so
an overloaded gateway answers every client "retry shortly", never "internal error".
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from common.http.errors import OVERLOAD_RETRY_AFTER_SECONDS, database_overloaded, overloaded_body

logger = logging.getLogger("tender.api")


class DatabaseOverloadMiddleware(MiddlewareMixin):  # sync and async: never pins a thread under ASGI
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_overloaded(exception):
            return None
        logger.warning("no database connection available: 503", extra={"path": request.path})
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(overloaded_body(), status=503)
        else:
            response = HttpResponse(
                "The gateway is overloaded; retry shortly.\n", status=503, content_type="text/plain; charset=utf-8"
            )
        response["Retry-After"] = str(OVERLOAD_RETRY_AFTER_SECONDS)
        return response
