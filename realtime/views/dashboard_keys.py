"""Dashboard API keys page: test and live keys with their last use; create a key (its secret
is shown once, in the answer to the POST that made it: never a redirect, a Django message or
the session; ``Cache-Control: no-store``); revoke; roll with an overlap. Writes call
``payments.services.api_keys`` after the role check and record the dashboard audit row in the
same transaction (never the secret)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from common.errors import DomainError, InvalidInput
from common.http.errors import http_status
from payments.models import ApiKey
from payments.services.api_keys import IssuedApiKey, api_key_create, api_key_revoke, api_key_roll
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import role_required

KEY_PAGE_SIZE = 50
OVERLAP_CHOICES = [(0, "none: the old key stops now"), (3600, "1 hour"), (86400, "24 hours"), (604800, "7 days")]
MESSAGES = {"revoked": "Key revoked: requests with it are refused from now on."}


def _keys(request: HttpRequest, page: int) -> tuple[list[ApiKey], bool]:
    rows = list(
        ApiKey.objects.filter(merchant=request.merchant).order_by("mode", "-created_at", "-id")[
            page * KEY_PAGE_SIZE : (page + 1) * KEY_PAGE_SIZE + 1
        ]
    )
    return rows[:KEY_PAGE_SIZE], len(rows) > KEY_PAGE_SIZE


def _page(
    request: HttpRequest, *, issued: IssuedApiKey | None = None, error: str | None = None, status: int = 200
) -> HttpResponse:
    raw = request.GET.get("page", "0")
    page = int(raw) if raw.isdigit() and len(raw) < 7 else 0
    keys, more = _keys(request, page)
    context = {
        "nav": "keys",
        "keys": keys,
        "page": page,
        "more": more,
        "now": timezone.now(),
        "modes": ApiKey.Mode.values,
        "overlap_choices": OVERLAP_CHOICES,
        "issued": issued,
        "message": MESSAGES.get(request.GET.get("done", "")),
        "error": error,
    }
    response = render(request, "realtime/dashboard/keys.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a new secret may be on this page
    return response


@require_GET
@role_required("keys_view")
@ensure_csrf_cookie
@never_cache
def keys_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _key(request: HttpRequest, key_id: str) -> ApiKey | None:
    return ApiKey.objects.filter(merchant=request.merchant, key_id=key_id).first()


@require_POST
@role_required("keys_manage")
def key_create(request: HttpRequest) -> HttpResponse:
    mode = request.POST.get("mode", "")
    label = (request.POST.get("label") or "").strip()
    try:
        if mode not in ApiKey.Mode.values:
            raise InvalidInput("Choose test or live", field="mode", reason="invalid_mode")
        if len(label) > 100:
            raise InvalidInput("The label is at most 100 characters", field="label", reason="invalid_label")
        with transaction.atomic():
            issued = api_key_create(merchant=request.merchant, mode=mode, label=label)
            dashboard_audit_record(
                membership=request.membership,
                action="api_key.created",
                object_id=issued.api_key.key_id,
                detail={"mode": mode, "label": label},
            )
    except DomainError as exc:
        return _page(request, error=exc.description, status=http_status(exc))
    return _page(request, issued=issued, status=201)


@require_POST
@role_required("keys_manage")
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    api_key = _key(request, key_id)
    if api_key is None:
        return render(request, "realtime/dashboard/not_found.html", {"what": "API key"}, status=404)
    with transaction.atomic():
        api_key_revoke(api_key=api_key)
        dashboard_audit_record(membership=request.membership, action="api_key.revoked", object_id=api_key.key_id)
    return HttpResponseRedirect("/dashboard/keys?done=revoked")


@require_POST
@role_required("keys_manage")
def key_roll(request: HttpRequest, key_id: str) -> HttpResponse:
    """A new key now; the old one keeps working for the chosen overlap, then stops."""
    api_key = _key(request, key_id)
    if api_key is None:
        return render(request, "realtime/dashboard/not_found.html", {"what": "API key"}, status=404)
    raw = request.POST.get("overlap_seconds", "")
    try:
        if raw not in {str(seconds) for seconds, _ in OVERLAP_CHOICES}:
            raise InvalidInput("Choose an overlap", field="overlap", reason="invalid_overlap")
        with transaction.atomic():
            issued = api_key_roll(api_key=api_key, overlap=timedelta(seconds=int(raw)))
            dashboard_audit_record(
                membership=request.membership,
                action="api_key.rolled",
                object_id=api_key.key_id,
                detail={"new_key_id": issued.api_key.key_id, "overlap_seconds": int(raw)},
            )
    except DomainError as exc:
        return _page(request, error=exc.description, status=http_status(exc))
    return _page(request, issued=issued, status=201)
