"""Beat schedules seeded by migration (never clobbering edits) and the tasks they run."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from payments.models import Event
from reconciliation.models import Run
from reconciliation.tasks import reconciliation_period, reconciliation_previous_day, reconciliation_recent_hours
from tests.reconciliation.helpers import payment_make

seed_migration = importlib.import_module("reconciliation.migrations.0002_seed_beat_schedules")
DAILY = "reconciliation: daily settlement (previous day)"
HOURLY = "reconciliation: hourly settlement (last 3 hours)"


@pytest.mark.django_db
def test_schedules_are_seeded_daily_at_two_and_hourly():
    daily = PeriodicTask.objects.get(name=DAILY)
    assert daily.task == "reconciliation.tasks.reconciliation_previous_day"
    assert (daily.crontab.minute, daily.crontab.hour, str(daily.crontab.timezone)) == ("0", "2", "UTC")
    assert daily.queue == "reconciliation" and daily.enabled
    hourly = PeriodicTask.objects.get(name=HOURLY)
    assert (hourly.crontab.minute, hourly.crontab.hour) == ("15", "*")
    assert json.loads(hourly.kwargs) == {"provider": "simulator", "hours": 3}


@pytest.mark.django_db
def test_seeding_again_keeps_admin_edits():
    PeriodicTask.objects.filter(name=HOURLY).update(enabled=False, kwargs='{"provider": "simulator", "hours": 6}')
    PeriodicTask.objects.filter(name=DAILY).delete()
    seed_migration.seed(apps, None)
    hourly = PeriodicTask.objects.get(name=HOURLY)
    assert not hourly.enabled and json.loads(hourly.kwargs)["hours"] == 6
    assert PeriodicTask.objects.filter(name=DAILY).count() == 1
    assert PeriodicTask.objects.filter(name__startswith="reconciliation:").count() == 2


@pytest.mark.django_db
def test_tasks_reconcile_the_right_periods_from_the_provider(alice):
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    payment_make(alice.merchant, status="success", created_at=midnight - timedelta(hours=12))
    top_before = timezone.now().replace(minute=0, second=0, microsecond=0)
    hourly_id = reconciliation_recent_hours(provider="simulator", hours=3)
    daily_id = reconciliation_previous_day(provider="simulator")
    hourly, daily = Run.objects.get(pk=hourly_id), Run.objects.get(pk=daily_id)
    top = timezone.now().replace(minute=0, second=0, microsecond=0)
    assert hourly.period_end in {top_before, top}  # the clock may pass an hour meanwhile
    assert hourly.period_start == hourly.period_end - timedelta(hours=3)
    assert (daily.period_start, daily.period_end) == (midnight - timedelta(days=1), midnight)
    assert hourly.file.source == "beat" and hourly.status == "completed"
    # The simulator never saw that payment: absent from yesterday's file, so flagged.
    assert daily.counts == {"ours_success_provider_not": 1}
    explicit = reconciliation_period("simulator", "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00")
    assert Run.objects.get(pk=explicit).period_start.isoformat() == "2026-01-01T00:00:00+00:00"


@pytest.mark.django_db
def test_a_run_a_crash_left_classified_is_finished_by_the_next_task(alice):
    from reconciliation.services.runs import settlement_import
    from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, settlement_csv

    pending = payment_make(alice.merchant, status="pending")
    # Step 1 only, as if the process died before the actions.
    outcome = settlement_import(
        provider="simulator",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        content=settlement_csv([line_for(pending)]),
        filename="",
        source="beat",
    )
    Run.objects.filter(pk=outcome.run.id).update(created_at=timezone.now() - timedelta(hours=1))
    pending.refresh_from_db()
    assert pending.status == "pending" and outcome.run.status == "classified"
    reconciliation_recent_hours(provider="simulator", hours=1)
    pending.refresh_from_db()
    assert pending.status == "success"
    assert Run.objects.get(pk=outcome.run.id).status == "completed"
    assert Event.objects.filter(type="reconciliation.completed", object_id=outcome.run.id).count() == 1
