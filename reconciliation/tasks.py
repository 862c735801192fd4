"""Celery entry points of reconciliation (queue ``reconciliation``): thin wrappers that
work out the period and call :func:`reconciliation.services.runs.reconciliation_run`.

Beat runs them from PostgreSQL (django-celery-beat); the schedules are seeded by
migration 0002 and editable in the admin.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from reconciliation.models import SettlementFile
from reconciliation.parsing import SettlementFileError
from reconciliation.services.runs import reconciliation_run, runs_unfinished_finish

logger = logging.getLogger("tender.reconciliation")


def _run(provider: str, period_start: datetime, period_end: datetime) -> str | None:
    runs_unfinished_finish()  # whatever a crashed run left undone comes first
    try:
        outcome = reconciliation_run(
            provider=provider, period_start=period_start, period_end=period_end, source=SettlementFile.Source.BEAT
        )
    except SettlementFileError as exc:
        # A bad file changes nothing; say so loudly and let the next schedule try again.
        logger.error(
            "settlement file rejected", extra={"provider": provider, "reason": exc.reason, "error": exc.message}
        )
        return None
    return outcome.run.id if outcome.run else None


@shared_task(name="reconciliation.tasks.reconciliation_previous_day", ignore_result=True)
def reconciliation_previous_day(provider: str = "simulator") -> str | None:
    """The daily run (02:00 UTC): yesterday, midnight to midnight UTC."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return _run(provider, today - timedelta(days=1), today)


@shared_task(name="reconciliation.tasks.reconciliation_recent_hours", ignore_result=True)
def reconciliation_recent_hours(provider: str = "simulator", hours: int = 3) -> str | None:
    """The hourly run: the last ``hours`` whole hours. Overlapping windows are safe:
    discrepancies are recorded once and actions never apply twice."""
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    return _run(provider, end - timedelta(hours=hours), end)


@shared_task(name="reconciliation.tasks.reconciliation_period", ignore_result=True)
def reconciliation_period(provider: str, period_start: str, period_end: str) -> str | None:
    """Reconcile an explicit period (ISO-8601 bounds), e.g. queued from the admin."""
    return _run(provider, datetime.fromisoformat(period_start), datetime.fromisoformat(period_end))
