"""Seed the reconciliation Beat schedules: daily at 02:00 UTC (yesterday) and hourly at
:15 (the last 3 hours). get_or_create by name: an edited or disabled row is never touched,
and a deleted one comes back only on a fresh database."""

import json

from django.db import migrations

SCHEDULES = [
    {
        "name": "reconciliation: daily settlement (previous day)",
        "task": "reconciliation.tasks.reconciliation_previous_day",
        "crontab": {"minute": "0", "hour": "2"},
        "kwargs": {"provider": "simulator"},
    },
    {
        "name": "reconciliation: hourly settlement (last 3 hours)",
        "task": "reconciliation.tasks.reconciliation_recent_hours",
        "crontab": {"minute": "15", "hour": "*"},
        "kwargs": {"provider": "simulator", "hours": 3},
    },
]


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for spec in SCHEDULES:
        if PeriodicTask.objects.filter(name=spec["name"]).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=spec["crontab"]["minute"],
            hour=spec["crontab"]["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.get_or_create(
            name=spec["name"],
            defaults={
                "task": spec["task"],
                "crontab": crontab,
                "kwargs": json.dumps(spec["kwargs"]),
                "queue": "reconciliation",
                "routing_key": "reconciliation",
                "exchange": "tender",
                "enabled": True,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
