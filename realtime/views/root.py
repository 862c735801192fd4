"""``GET /``: what a person typing the bare URL of a port finds there.

Tender serves every page on every port, but people arrive through the seed gateway's three
URLs: :3000 is the dashboard, :3001 the checkout, :8000 the API. The port is taken from the
``Host`` header the client sent (a proxy that preserves ``Host: host:port`` keeps it), and
only when the header has none from Django's ``get_port()`` (the socket's port, or
``X-Forwarded-Port`` when ``USE_X_FORWARDED_PORT`` trusts it). Links are relative, so no
header value is ever echoed into a page.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import render
from django.views.decorators.http import require_safe

API_LINKS = {
    "docs": "/api/docs",
    "schema": "/api/schema",
    "health": "/health",
    "dashboard": "/dashboard/",
    "checkout": "/checkout?order_id={order_id}",
}


def request_port(request: HttpRequest) -> str:
    """The port the client addressed: the ``Host`` header's, else the server's."""
    _, port = split_domain_port(request.get_host())  # get_host() checks ALLOWED_HOSTS (400)
    return port or str(request.get_port())


def _wants_html(request: HttpRequest) -> bool:
    # curl and API clients send */* or application/json; browsers list text/html first.
    return request.accepts("text/html") and "text/html" in request.headers.get("Accept", "")


@require_safe
def site_root(request: HttpRequest) -> HttpResponse:
    port = request_port(request)
    if port in settings.DASHBOARD_PORTS:
        return HttpResponseRedirect("/dashboard/")  # the dashboard sends strangers to /login
    if port in settings.CHECKOUT_PORTS:
        return render(request, "realtime/root_checkout.html")
    if _wants_html(request):
        return render(request, "realtime/root_api.html", {"links": API_LINKS})
    return JsonResponse({"name": "Tender payment gateway", "api": "/api/v1/", "links": API_LINKS})
