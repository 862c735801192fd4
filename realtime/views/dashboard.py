"""Merchant dashboard pages (Django session auth; a user belongs to one merchant).

Pages render real values from the database; live updates come from ``ws/merchant`` with a
ticket issued to the logged-in session (``POST /dashboard/api/ticket``, CSRF-checked)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import PERMISSION_ERROR, DomainError, InvalidInput
from common.http.errors import envelope
from common.http.views import json_view
from payments.demo import TEST_API_SECRET
from payments.models import PaymentMethod
from payments.models.merchants import Mode
from payments.services.api_keys import secret_hash
from payments.snapshots import iso
from payments.states import PaymentStatus
from realtime import selectors
from realtime.charts import merchant_charts
from realtime.dashboard_selectors import merchant_timezone
from realtime.services import ticket_create
from realtime.team import role_capabilities

View = Callable[..., HttpResponse]


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/dashboard/api/")


def merchant_required(view: View) -> View:
    """Logged in AND linked to an active merchant; sets ``request.merchant``,
    ``request.membership`` (role, refund limit) and ``request.can`` (capability -> bool, for
    templates). JSON endpoints under /dashboard/api/ answer 401 in the envelope instead of
    redirecting."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = selectors.membership_for_user(user=request.user)
        if membership is None:
            if _wants_json(request):
                return JsonResponse(envelope("AUTHENTICATION_ERROR", "Log in to the dashboard"), status=401)
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?next={request.path}")
        request.merchant = membership.merchant
        request.membership = membership
        request.can = role_capabilities(membership)
        return view(request, *args, **kwargs)

    return wrapper


def forbidden(request: HttpRequest, description: str) -> HttpResponse:
    """403 for a role that may not do this: the envelope for JSON, a page otherwise."""
    if _wants_json(request):
        return JsonResponse(envelope(PERMISSION_ERROR, description, reason="role_forbidden"), status=403)
    return render(request, "realtime/dashboard/forbidden.html", {"description": description}, status=403)


def role_required(capability: str) -> Callable[[View], View]:
    """``merchant_required`` plus a server-side role check: a role without ``capability``
    gets 403 and the view never runs."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.can[capability]:
                role = request.membership.role
                return forbidden(request, f"Your role ({role}) cannot do this. Ask the account owner.")
            return view(request, *args, **kwargs)

        return merchant_required(checked)

    return decorate


@require_http_methods(["GET", "POST"])
@ensure_csrf_cookie
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """``/login``: e-mail + password of a merchant user."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/dashboard/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/dashboard/"
    error = None
    email = ""
    if request.method == "POST":
        email = request.POST.get("email", "").strip().lower()
        user = authenticate(request, username=email, password=request.POST.get("password", ""))
        if user is not None and selectors.merchant_for_user(user=user) is not None:
            login(request, user)
            return HttpResponseRedirect(next_url)
        error = "Invalid email or password"
    status = 401 if error else 200
    return render(request, "realtime/login.html", {"error": error, "email": email, "next": next_url}, status=status)


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """``/logout``: POST logs out (the dashboard's button); GET only shows the button, so a
    cross-site link cannot log anyone out."""
    if request.method == "POST":
        logout(request)
        return HttpResponseRedirect(settings.LOGIN_URL)
    return render(request, "realtime/logout.html")


def _secret_display(api_key: Any) -> str | None:
    # Secrets are stored as hashes: only the documented demo secret can be shown again.
    if api_key is not None and settings.DEMO_MODE and api_key.secret_hash == secret_hash(TEST_API_SECRET):
        return TEST_API_SECRET
    return None


def _overview_mode(request: HttpRequest, *, strict: bool = False) -> str | None:
    """The overview's ``?mode=``: test, live, or both (absent or ``all``). The page shows both
    for anything else; its JSON (``strict``) answers 400 ``invalid_mode``, as the search does."""
    mode = request.GET.get("mode")
    if mode in Mode.values:
        return mode
    if strict and mode not in (None, "", selectors.STATUS_ALL):
        raise InvalidInput("mode must be test, live or all", field="mode", reason="invalid_mode")
    return None


@require_GET
@merchant_required
def home(request: HttpRequest) -> HttpResponse:
    api_key = selectors.api_key_for_display(merchant=request.merchant)
    mode = _overview_mode(request)
    context = {
        "nav": "home",
        "api_key": api_key,
        "api_secret": _secret_display(api_key),
        "stats": selectors.merchant_stats(merchant=request.merchant, mode=mode),
        "charts": merchant_charts(
            merchant=request.merchant,
            zone=merchant_timezone(merchant=request.merchant),
            days=30 if request.GET.get("days") == "30" else 7,
            mode=mode,
        ),
    }
    return render(request, "realtime/dashboard/home.html", context)


@require_GET
@merchant_required
@ensure_csrf_cookie
def transactions(request: HttpRequest) -> HttpResponse:
    """The newest page of payments (``?status=`` filters; an unknown one shows all)."""
    try:
        status = selectors.payment_status_filter(request.GET.get("status"))
    except DomainError:
        status = None
    page = selectors.payment_page_for_merchant(merchant=request.merchant, status=status)
    context = {
        "nav": "transactions",
        "rows": page.rows,
        "next_cursor": page.next_cursor,
        "status": status or selectors.STATUS_ALL,
        "status_options": [selectors.STATUS_ALL, *PaymentStatus.values],
        "method_options": [selectors.STATUS_ALL, *PaymentMethod.values],
        "mode_options": [selectors.STATUS_ALL, *Mode.values],
        "params": {},
    }
    return render(request, "realtime/dashboard/transactions.html", context)


@require_GET
@merchant_required
def docs(request: HttpRequest) -> HttpResponse:
    api_key = selectors.api_key_for_display(merchant=request.merchant)
    context = {
        "nav": "docs",
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "api_key": api_key.key_id if api_key else "key_test_…",
    }
    return render(request, "realtime/dashboard/docs.html", context)


@require_POST
@merchant_required
def api_ticket(request: HttpRequest) -> JsonResponse:
    """A websocket ticket for the logged-in session (CSRF-checked like every POST)."""
    # The socket it opens closes (4401) once this session logs out (socket_authority_check).
    issued = ticket_create(merchant=request.merchant, session_key=request.session.session_key or "")
    return JsonResponse(
        {"ticket": issued.ticket, "expires_at": iso(issued.expires_at), "url": f"/ws/merchant?ticket={issued.ticket}"},
        status=201,
    )


def _payment_page(request: HttpRequest, *, before: str | None) -> JsonResponse:
    status = selectors.payment_status_filter(request.GET.get("status"))
    page = selectors.payment_page_for_merchant(merchant=request.merchant, status=status, before=before)
    return JsonResponse(page.as_json())


@require_GET
@merchant_required
@json_view
def api_payments(request: HttpRequest) -> JsonResponse:
    """The newest page of the transactions table (``?status=`` filters): for a re-sync after
    a reconnect or a version gap, and when the filter changes.
    ``{data, next_cursor, has_more}``; pass ``next_cursor`` to ``api_payments_older``."""
    return _payment_page(request, before=None)


@require_GET
@merchant_required
@json_view
def api_payments_older(request: HttpRequest) -> JsonResponse:
    """The "Load older" page: the payments after cursor ``?before=`` (required; opaque, from
    ``next_cursor``), same ``?status=`` and shape as ``api_payments``. Bad cursor → 400."""
    return _payment_page(request, before=request.GET.get("before", ""))


@require_GET
@merchant_required
@json_view
def api_stats(request: HttpRequest) -> JsonResponse:
    """The overview's stats, re-fetched by the page when payment events arrive (``?mode=``
    as on the page: test, live, or both)."""
    mode = _overview_mode(request, strict=True)
    return JsonResponse(asdict(selectors.merchant_stats(merchant=request.merchant, mode=mode)))
