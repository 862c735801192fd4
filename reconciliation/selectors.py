"""Read side of reconciliation, merchant-scoped.

A merchant sees a run only if the run classified at least one of its payments, and then
only its own counts and discrepancies; lines nobody can be attributed to (``unknown_to_us``)
and other merchants' items are staff-only. Anything else is a 404, like absence.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from common.errors import NotFound
from payments.models import Merchant
from reconciliation.models import Discrepancy, Run, RunCount, RunDiscrepancy


def run_list_for_merchant(*, merchant: Merchant) -> QuerySet[Run]:
    mine = RunCount.objects.filter(run_id=OuterRef("pk"), merchant=merchant)
    return Run.objects.filter(Exists(mine)).select_related("file").order_by("-created_at", "-id")


def run_get_for_merchant(*, merchant: Merchant, run_id: str) -> Run:
    run = run_list_for_merchant(merchant=merchant).filter(pk=run_id).first()
    if run is None:
        raise NotFound("No reconciliation run with this id", reason="run_not_found")
    return run


def run_counts_for_merchant(*, merchant: Merchant, run_ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
    for run_id, klass, count in RunCount.objects.filter(run_id__in=run_ids, merchant=merchant).values_list(
        "run_id", "klass", "count"
    ):
        counts[run_id][klass] = count
    return counts


def discrepancy_list_for_merchant(
    *, merchant: Merchant, run_id: str | None = None, status: str | None = None, klass: str | None = None
) -> QuerySet[Discrepancy]:
    queryset = Discrepancy.objects.filter(merchant=merchant)
    if run_id is not None:
        seen = RunDiscrepancy.objects.filter(run_id=run_id, discrepancy_id=OuterRef("pk"))
        queryset = queryset.filter(Exists(seen))
    if status:
        queryset = queryset.filter(status=status)
    if klass:
        queryset = queryset.filter(klass=klass)
    return queryset.order_by("-created_at", "id")


def discrepancy_get_for_merchant(*, merchant: Merchant, discrepancy_id: str) -> Discrepancy:
    discrepancy = Discrepancy.objects.filter(merchant=merchant, pk=discrepancy_id).first()
    if discrepancy is None:
        raise NotFound("No discrepancy with this id", reason="discrepancy_not_found")
    return discrepancy
