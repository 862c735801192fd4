"""Dashboard batches: upload a CSV of payment items (parsed and checked row by row in the
page before anything is sent), submit the valid rows as one batch through the batch
service (the API's own item validation, rate limit and audit), and watch its progress.
This module parses input and renders; every rule lives in payments/."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from common.http.shapes import parse_json_body, validated
from common.http.throttling import batch_attempt_register
from common.http.views import json_view
from payments.api.batch_serializers import BatchCreate
from payments.api.batches import accepted_body, batch_items_parse
from payments.selectors.batches import batch_counts, batch_get_for_merchant, batch_list_recent_for_merchant
from payments.services.batches import MAX_BATCH_ITEMS, payment_batch_create
from payments.snapshots import batch_snapshot
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import merchant_required, role_required


@require_GET
@merchant_required
@ensure_csrf_cookie
def batches_page(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "batches",
        "max_items": MAX_BATCH_ITEMS,
        "can_upload": request.can["payments_batch"],
        "recent": [
            batch_snapshot(b, counts=counts) for b, counts in batch_list_recent_for_merchant(merchant=request.merchant)
        ],
    }
    return render(request, "realtime/dashboard/batches.html", context)


@require_POST
@role_required("payments_batch")
@json_view
def api_batch_create(request: HttpRequest) -> JsonResponse:
    """``{reference, items}`` from the page (CSRF-checked) → the 202 body of the API."""
    shape = validated(BatchCreate, parse_json_body(request))
    batch_attempt_register(merchant_id=request.merchant.pk)
    raw_items = shape["items"]
    items, rejected = batch_items_parse(raw_items)
    with transaction.atomic():
        result = payment_batch_create(
            merchant=request.merchant,
            reference=shape["reference"],
            items=items,
            rejected=rejected,
            total=len(raw_items),
        )
        if result.created:
            dashboard_audit_record(
                membership=request.membership,
                action="batch.create",
                object_id=result.batch.id,
                detail={"total": result.batch.total, "accepted": result.batch.accepted},
            )
    return JsonResponse(accepted_body(result.batch), status=202 if result.created else 200)


@require_GET
@merchant_required
@json_view
def api_batch_progress(request: HttpRequest, batch_id: str) -> JsonResponse:
    """The batch's counts, polled by the page while it is processing."""
    batch = batch_get_for_merchant(merchant=request.merchant, batch_id=batch_id)
    body: dict[str, Any] = batch_snapshot(batch, counts=batch_counts(batch=batch))
    return JsonResponse(body)
