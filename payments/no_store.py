"""``Cache-Control: no-store`` on every dynamic response that does not choose its own policy.

API answers, dashboard pages and admin pages may carry a secret shown once (a new API key
secret, a webhook signing secret, the demo credentials); none may sit in a browser's disk
cache or a shared proxy cache. Rather than trust every present and future view to
remember, the default is "never store"; a response that is safe to cache says so itself
(``checkout.js``, the checkout page, static files).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
