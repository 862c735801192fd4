"""Reconciliation API for merchants (read-only; staff act in the admin). Thin: parse
parameters, call a selector, render the snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, page_params, page_render
from common.http.query import PageQuery, QueryText, query_parse
from common.http.responses import json_response
from payments.api.schema import errors
from reconciliation.models import Discrepancy, Klass, Run
from reconciliation.selectors import (
    discrepancy_get_for_merchant,
    discrepancy_list_for_merchant,
    run_counts_for_merchant,
    run_get_for_merchant,
    run_list_for_merchant,
)
from reconciliation.snapshots import discrepancy_snapshot, run_snapshot

RUN_DETAIL_DISCREPANCIES = 500
_Page = page_of("ReconciliationPage", serializers.DictField())
_PAGE_PARAMS = [PageQuery]
# "class" is a Python keyword: the query serializer is built with type() to declare it.
DiscrepancyQuery = type(
    "DiscrepancyQuery",
    (PageQuery,),
    {
        "run_id": QueryText(),
        "status": serializers.ChoiceField(Discrepancy.Status.values, required=False),
        "class": serializers.ChoiceField(Klass.values, required=False),
    },
)
_Counts = serializers.DictField(child=serializers.IntegerField(), help_text="your items per class")
_RunFields = {
    "id": serializers.CharField(),
    "provider": serializers.CharField(),
    "period_start": serializers.DateTimeField(),
    "period_end": serializers.DateTimeField(),
    "status": serializers.CharField(),
    "file_checksum": serializers.CharField(),
    "counts": _Counts,
    "created_at": serializers.DateTimeField(),
    "completed_at": serializers.DateTimeField(allow_null=True),
}
_Discrepancy = inline_serializer(
    "ReconciliationDiscrepancy",
    {
        "id": serializers.CharField(),
        "class": serializers.ChoiceField(choices=Klass.values),
        "status": serializers.ChoiceField(choices=Discrepancy.Status.values),
        "version": serializers.IntegerField(),
        "run_id": serializers.CharField(),
        "last_run_id": serializers.CharField(),
        "payment_id": serializers.CharField(allow_null=True),
        "provider": serializers.CharField(),
        "provider_reference": serializers.CharField(allow_null=True),
        "ours": serializers.DictField(),
        "provider_says": serializers.DictField(),
        "proposed_action": serializers.CharField(),
        "note": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "last_seen_at": serializers.DateTimeField(),
        "resolved_at": serializers.DateTimeField(allow_null=True),
    },
)
_RunDetail = inline_serializer(
    "ReconciliationRunDetail",
    {
        **_RunFields,
        "discrepancies": serializers.ListField(child=serializers.DictField()),
        "discrepancies_total": serializers.IntegerField(),
    },
)
_TAGS = ["reconciliation"]


class RunListApi(APIView):
    """``GET /api/v1/reconciliation/runs``: runs that classified any of your payments."""

    @extend_schema(
        tags=_TAGS,
        operation_id="reconciliation_runs_list",
        parameters=_PAGE_PARAMS,
        responses={200: _Page, **errors(400, 401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        limit, offset = page_params(request)

        def render_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
            counts = run_counts_for_merchant(merchant=request.user, run_ids=[run.id for run in runs])
            return [run_snapshot(run, counts=counts[run.id]) for run in runs]

        runs = run_list_for_merchant(merchant=request.user)
        return json_response(page_render(runs, limit=limit, offset=offset, render_rows=render_rows))


class RunDetailApi(APIView):
    """``GET /api/v1/reconciliation/runs/{id}``: your counts per class and your
    discrepancies seen by this run (the first 500; page through
    ``/reconciliation/discrepancies?run_id=…`` for more)."""

    @extend_schema(
        tags=_TAGS, operation_id="reconciliation_runs_get", responses={200: _RunDetail, **errors(400, 401, 404, 429)}
    )
    def get(self, request: Request, run_id: str) -> HttpResponse:
        run = run_get_for_merchant(merchant=request.user, run_id=run_id)
        counts = run_counts_for_merchant(merchant=request.user, run_ids=[run.id])[run.id]
        discrepancies = discrepancy_list_for_merchant(merchant=request.user, run_id=run.id)
        body = run_snapshot(run, counts=counts)
        body["discrepancies"] = [discrepancy_snapshot(d) for d in discrepancies[:RUN_DETAIL_DISCREPANCIES]]
        body["discrepancies_total"] = discrepancies.count()
        return json_response(body)


class DiscrepancyListApi(APIView):
    """``GET /api/v1/reconciliation/discrepancies``: filter by ``run_id``, ``status``, ``class``."""

    @extend_schema(
        tags=_TAGS,
        operation_id="reconciliation_discrepancies_list",
        parameters=[DiscrepancyQuery],
        responses={200: _Page, **errors(400, 401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        query = query_parse(request, DiscrepancyQuery)
        queryset = discrepancy_list_for_merchant(
            merchant=request.user, run_id=query.get("run_id"), status=query.get("status"), klass=query.get("class")
        )
        return json_response(
            page_render(queryset, limit=query["limit"], offset=query["offset"], render=discrepancy_snapshot)
        )


class DiscrepancyDetailApi(APIView):
    """``GET /api/v1/reconciliation/discrepancies/{id}``."""

    @extend_schema(
        tags=_TAGS,
        operation_id="reconciliation_discrepancies_get",
        responses={200: _Discrepancy, **errors(400, 401, 404, 429)},
    )
    def get(self, request: Request, discrepancy_id: str) -> HttpResponse:
        return json_response(
            discrepancy_snapshot(discrepancy_get_for_merchant(merchant=request.user, discrepancy_id=discrepancy_id))
        )
