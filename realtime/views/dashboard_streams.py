"""Dashboard event-streams page: the merchant's broker destinations with status, lag and
last error, and a replay form per destination. Reads go through the destinations'
selectors and the replay through their service; this module only parses and renders."""

from __future__ import annotations

from datetime import UTC

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from common.errors import DomainError, InvalidInput
from common.http.errors import http_status
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import role_required
from webhooks.destinations import selectors, services


def _page(request: HttpRequest, *, error: str | None = None, status: int = 200) -> HttpResponse:
    destinations = [
        selectors.destination_snapshot(d) for d in selectors.destination_list_for_merchant(merchant=request.merchant)
    ]
    context = {
        "nav": "streams",
        "destinations": destinations,
        "replayed": request.GET.get("replayed"),
        "error": error,
    }
    return render(request, "realtime/dashboard/streams.html", context, status=status)


@require_GET
@role_required("streams_view")
@ensure_csrf_cookie
@never_cache
def streams_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@role_required("streams_manage")
def streams_replay(request: HttpRequest, destination_id: str) -> HttpResponse:
    """Replay from an event id (``after``) or a UTC time (``since``, the form's
    datetime-local value); a bad value re-renders the page with the error, changing nothing."""
    after = (request.POST.get("after") or "").strip() or None
    raw_since = (request.POST.get("since") or "").strip()
    try:
        since = None
        if raw_since:
            try:
                since = parse_datetime(raw_since)
            except ValueError:
                since = None
            if since is None:
                raise InvalidInput("since must be a date and time", field="since", reason="invalid_since")
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
        destination = selectors.destination_get(merchant=request.merchant, destination_id=destination_id)
        with transaction.atomic():
            services.destination_replay(
                destination=destination, after=after, since=since, actor=f"dashboard:{request.user.get_username()}"
            )
            dashboard_audit_record(
                membership=request.membership,
                action="destination.replayed",
                object_id=destination.pk,
                detail={"after": after, "since": since.isoformat() if since else None},
            )
    except DomainError as exc:
        return _page(request, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect(f"/dashboard/streams?replayed={destination.pk}")
