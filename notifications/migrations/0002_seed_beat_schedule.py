"""Seed the notifications Beat job (get_or_create: admin edits survive re-runs)."""

from django.db import migrations

JOBS = [
    # (name, task, every seconds)
    ("notifications: send due and orphaned notifications", "notifications.tasks.notifications_sweep", 10),
]


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        interval = IntervalSchedule.objects.filter(every=seconds, period="seconds").first()
        if interval is None:
            interval = IntervalSchedule.objects.create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
