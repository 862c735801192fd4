"""``Cache-Control: no-store`` on every dynamic response that does not choose its own policy.

API answers, dashboard pages and admin pages may carry a secret shown once (a new API key
secret, a webhook signing secret, the demo credentials); none may sit in a browser's disk
cache or a shared proxy cache. Rather than trust every present and future view to
remember, the default is "never store"; a response that is safe to cache says so itself
(``checkout.js``, the checkout page, static files).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


class NoStoreMiddleware:
    """Sync and async: a sync-only link would put the async long-poll in a thread under ASGI."""

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
        return _no_store_by_default(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return _no_store_by_default(await self.get_response(request))


def _no_store_by_default(response: HttpResponse) -> HttpResponse:
    if not response.has_header("Cache-Control"):
        response["Cache-Control"] = "no-store"
    return response
