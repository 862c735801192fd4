"""Plain-dict JSON shapes of runs and discrepancies, shared by the API and the events."""

from __future__ import annotations

from typing import Any

from payments.snapshots import iso
from reconciliation.models import Discrepancy, Run


def discrepancy_snapshot(discrepancy: Discrepancy) -> dict[str, Any]:
    return {
        "id": discrepancy.id,
        "class": discrepancy.klass,
        "status": discrepancy.status,
        "version": discrepancy.version,
        "run_id": discrepancy.run_id,
        "last_run_id": discrepancy.last_run_id,
        "payment_id": discrepancy.payment_id,
        "provider": discrepancy.provider,
        "provider_reference": discrepancy.provider_reference or None,
        "ours": {
            "status": discrepancy.our_status or None,
            "amount": discrepancy.our_amount,
            "currency": discrepancy.our_currency or None,
        },
        "provider_says": {
            "status": discrepancy.provider_status or None,
            "amount": discrepancy.provider_amount,
            "currency": discrepancy.provider_currency or None,
        },
        "proposed_action": discrepancy.proposed_action,
        "note": discrepancy.note,
        "created_at": iso(discrepancy.created_at),
        "last_seen_at": iso(discrepancy.last_seen_at),
        "resolved_at": iso(discrepancy.resolved_at),
    }


def run_snapshot(run: Run, *, counts: dict[str, int]) -> dict[str, Any]:
    """``counts`` is passed in because a merchant sees its own counts, staff the totals."""
    return {
        "id": run.id,
        "provider": run.provider,
        "period_start": iso(run.period_start),
        "period_end": iso(run.period_end),
        "status": run.status,
        "file_checksum": run.file.checksum if run.file_id else None,
        "counts": counts,
        "created_at": iso(run.created_at),
        "completed_at": iso(run.completed_at),
    }
