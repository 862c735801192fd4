"""Dashboard search over payments and the streamed CSV export of every matching row.

One parser for both: the API's own payment filters (``PaymentFilterQuery``, the serializer
that also declares ``GET /api/v1/payments``'s parameters) take status, method and the
created range, then ``payment_search_apply`` the search box and the amount range. Dates are
calendar days in the merchant's timezone; amounts are major units. A bad value is a 400 with
the message beside the form (the HTML page) or in the envelope (the CSV), changing nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from common.errors import DomainError, InvalidInput
from common.http.errors import envelope, http_status
from common.http.query import query_validate
from payments.api.schema import PaymentFilterQuery
from payments.models import Merchant, Payment, PaymentMethod
from payments.models.merchants import Mode
from payments.money import DEFAULT_CURRENCY
from payments.selectors.payments import payment_list_for_merchant
from payments.states import PaymentStatus
from realtime import selectors
from realtime.dashboard_selectors import merchant_timezone, payment_search_apply, payments_csv_rows
from realtime.views import dashboard
from realtime.views.dashboard import role_required
from realtime.views.inputs import amount_from_major, local_day_start

LOCAL = "%Y-%m-%d %H:%M:%S"
SEARCH_FIELDS = ("q", "status", "method", "amount_min", "amount_max", "date_from", "date_to", "mode")


@dataclass(frozen=True)
class Search:
    params: dict[str, str]  # the non-empty values as given (echoed into the form)
    queryset: QuerySet[Payment]
    zone: ZoneInfo

    @property
    def active(self) -> bool:
        """More than the status filter (which the live table handles by itself)."""
        return any(key != "status" for key in self.params)

    @property
    def query_string(self) -> str:
        return urlencode(self.params)


def search_parse(request: HttpRequest, *, merchant: Merchant) -> Search:
    """The merchant's payments matching ``request.GET``; ``InvalidInput`` for a bad value."""
    raw = {key: str(request.GET.get(key, "")).strip() for key in SEARCH_FIELDS}
    params = {
        key: value
        for key, value in raw.items()
        if value and not (key in ("status", "method", "mode") and value == selectors.STATUS_ALL)
    }
    zone = merchant_timezone(merchant=merchant)
    filter_data: dict[str, str] = {}
    for key in ("status", "method"):
        if key in params:
            filter_data[key] = params[key]
    if "date_from" in params:
        filter_data["created_after"] = local_day_start(params["date_from"], zone, field="date_from").isoformat()
    if "date_to" in params:
        end = local_day_start(params["date_to"], zone, field="date_to", next_day=True)
        filter_data["created_before"] = end.isoformat()
    filters = query_validate(PaymentFilterQuery, filter_data)
    amounts = {
        key: amount_from_major(params[key], DEFAULT_CURRENCY, field=key) if key in params else None
        for key in ("amount_min", "amount_max")
    }
    queryset = payment_search_apply(
        payment_list_for_merchant(merchant=merchant, **filters), q=params.get("q", ""), **amounts
    )
    if "mode" in params:
        if params["mode"] not in Mode.values:
            raise InvalidInput("mode must be test or live", field="mode", reason="invalid_mode")
        queryset = queryset.filter(mode=params["mode"])
    return Search(params=params, queryset=queryset, zone=zone)


@require_GET
def transactions_or_search(request: HttpRequest) -> HttpResponse:
    """``/dashboard/transactions``: the live table, or search results when the query asks
    for more than a status (or pages through results with ``before``)."""
    if any(request.GET.get(key) for key in (*SEARCH_FIELDS[:1], *SEARCH_FIELDS[2:], "before")):
        return search_page(request)
    return dashboard.transactions(request)


@require_GET
@role_required("payments_view")
def search_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/transactions?q=…&…``: results 100 a page, newest first, keyset links."""
    context = {
        "nav": "transactions",
        "params": {key: request.GET.get(key, "") for key in SEARCH_FIELDS},
        "status_options": [selectors.STATUS_ALL, *PaymentStatus.values],
        "method_options": [selectors.STATUS_ALL, *PaymentMethod.values],
        "mode_options": [selectors.STATUS_ALL, *Mode.values],
    }
    try:
        search = search_parse(request, merchant=request.merchant)
        page = selectors.payment_page_for_merchant(
            merchant=request.merchant, queryset=search.queryset, before=request.GET.get("before") or None
        )
    except DomainError as exc:
        context["error"] = exc.description
        return render(request, "realtime/dashboard/search.html", context, status=http_status(exc))
    rows = [
        # Formatted here: the template's date filter would convert back to TIME_ZONE (UTC).
        {**row, "created_local": datetime.fromisoformat(row["created_at"]).astimezone(search.zone).strftime(LOCAL)}
        for row in page.rows
    ]
    context.update(
        rows=rows,
        zone=search.zone.key,
        query_string=search.query_string,
        next_cursor=page.next_cursor,
    )
    return render(request, "realtime/dashboard/search.html", context)


@require_GET
@role_required("payments_view")
def transactions_csv(request: HttpRequest) -> HttpResponse:
    """``/dashboard/transactions.csv?…`` (same filters as the search): every matching row,
    streamed, times in the merchant's timezone."""
    try:
        search = search_parse(request, merchant=request.merchant)
    except DomainError as exc:
        return JsonResponse(
            envelope(exc.code, exc.description, field=exc.field, reason=exc.reason), status=http_status(exc)
        )
    stamp = timezone.now().astimezone(search.zone).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(payments_csv_rows(search.queryset, zone=search.zone), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="transactions-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
