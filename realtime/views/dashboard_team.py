"""Dashboard team pages: the owner's team list with role changes and e-mail invitations,
the invitation link (sets a password, joins the team), and the audit log. Forms are plain
POSTs (CSRF-checked) that redirect with a message or re-render with the error; the rules
live in ``realtime.team``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import DomainError
from common.http.errors import http_status
from realtime import selectors, team
from realtime.dashboard_selectors import merchant_timezone
from realtime.models import Role
from realtime.views.dashboard import role_required

MESSAGES = {"invited": "Invitation sent.", "updated": "Team member updated.", "timezone": "Timezone saved."}


def _team_page(request: HttpRequest, *, error: str | None = None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "team",
        "members": selectors.team_list_for_merchant(merchant=request.merchant),
        "invitations": selectors.invitation_list_open_for_merchant(merchant=request.merchant),
        "roles": Role.values,
        "timezone": merchant_timezone(merchant=request.merchant).key,
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
        "form": request.POST if error else {},
    }
    return render(request, "realtime/dashboard/team.html", context, status=status)


@require_GET
@role_required("team_manage")
@ensure_csrf_cookie
def team_page(request: HttpRequest) -> HttpResponse:
    return _team_page(request)


@require_POST
@role_required("team_manage")
def team_invite(request: HttpRequest) -> HttpResponse:
    try:
        team.team_invitation_create(
            membership=request.membership,
            email=request.POST.get("email"),
            role=request.POST.get("role"),
            refund_limit=request.POST.get("refund_limit"),
            # The gateway's public address, never the request's Host: the link leaves in a
            # mail, and the host a request came in by may be an internal one.
            accept_base_url=settings.PUBLIC_BASE_URL,
        )
    except DomainError as exc:
        return _team_page(request, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect("/dashboard/team?done=invited")


@require_POST
@role_required("team_manage")
def team_member_update(request: HttpRequest, member_id: str) -> HttpResponse:
    try:
        team.team_member_update(
            membership=request.membership,
            member_id=member_id,
            role=request.POST.get("role"),
            refund_limit=request.POST.get("refund_limit"),
        )
    except DomainError as exc:
        return _team_page(request, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect("/dashboard/team?done=updated")


@require_POST
@role_required("settings_manage")
def timezone_update(request: HttpRequest) -> HttpResponse:
    try:
        team.dashboard_timezone_set(membership=request.membership, timezone_name=request.POST.get("timezone"))
    except DomainError as exc:
        return _team_page(request, error=exc.description, status=http_status(exc))
    return HttpResponseRedirect("/dashboard/team?done=timezone")


@require_http_methods(["GET", "POST"])
@ensure_csrf_cookie
@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """``/invite/{token}``: the e-mailed link. GET shows who invites whom; POST sets the
    password, joins the team and logs in."""
    try:
        invitation = team.invitation_get_open(token=token)
    except DomainError as exc:
        return render(request, "realtime/invite.html", {"error": exc.description, "invalid": True}, status=404)
    if request.method == "GET":
        return render(request, "realtime/invite.html", {"invitation": invitation})
    try:
        user = team.invitation_accept(token=token, password=request.POST.get("password", ""))
    except DomainError as exc:
        context = {"invitation": invitation, "error": exc.description}
        return render(request, "realtime/invite.html", context, status=http_status(exc))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect("/dashboard/")


@require_GET
@role_required("audit_view")
def audit_page(request: HttpRequest) -> HttpResponse:
    """The dashboard audit log, 50 entries a page, newest first (``?before=<id>``)."""
    try:
        rows, next_before = selectors.audit_page_for_merchant(
            merchant=request.merchant, before=request.GET.get("before")
        )
    except DomainError:
        rows, next_before = selectors.audit_page_for_merchant(merchant=request.merchant)
    return render(request, "realtime/dashboard/audit.html", {"nav": "audit", "rows": rows, "next_before": next_before})
