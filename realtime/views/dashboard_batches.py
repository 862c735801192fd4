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
from rest_framework.exceptions import ValidationError

from common.errors import DomainError
from common.http.errors import _first_validation_error, domain_error_response, envelope
from common.http.inputs import json_body
from payments.api.batch_serializers import BatchCreate
from payments.api.batches import accepted_body, batch_items_parse
from payments.api.throttling import batch_attempt_register
from payments.selectors.batches import batch_counts, batch_get_for_merchant, batch_list_recent_for_merchant
from payments.services.batches import MAX_BATCH_ITEMS, payment_batch_create
from payments.snapshots import batch_snapshot
from payments.validation import require_object
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import merchant_required, role_required


def _error(exc: DomainError) -> JsonResponse:
    return domain_error_response(exc)


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
def api_batch_create(request: HttpRequest) -> JsonResponse:
    """``{reference, items}`` from the page (CSRF-checked) → the 202 body of the API."""
    try:
        envelope_shape = BatchCreate(data=require_object(json_body(request) or {}))
        if not envelope_shape.is_valid():
            raise ValidationError(envelope_shape.errors)
        batch_attempt_register(merchant_id=request.merchant.pk)
        raw_items = envelope_shape.validated_data["items"]
        items, rejected = batch_items_parse(raw_items)
        with transaction.atomic():
            result = payment_batch_create(
                merchant=request.merchant,
                reference=envelope_shape.validated_data["reference"],
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
    except ValidationError as exc:
        field, message, code = _first_validation_error(exc.detail)
        return JsonResponse(envelope("BAD_REQUEST_ERROR", message, field=field, reason=code), status=400)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(accepted_body(result.batch), status=202 if result.created else 200)


@require_GET
@merchant_required
def api_batch_progress(request: HttpRequest, batch_id: str) -> JsonResponse:
    """The batch's counts, polled by the page while it is processing."""
    try:
        batch = batch_get_for_merchant(merchant=request.merchant, batch_id=batch_id)
    except DomainError as exc:
        return _error(exc)
    body: dict[str, Any] = batch_snapshot(batch, counts=batch_counts(batch=batch))
    return JsonResponse(body)
