"""Seed the payments core's Beat jobs (get_or_create: admin edits survive re-runs)."""

from django.db import migrations

JOBS = [
    # (name, task, every seconds)
    ("payments: outbox sweep", "payments.outbox_tasks.outbox_sweep", 10),
    ("payments: stuck payment sweep", "payments.tasks.payments_stuck_sweep", 30),
    ("payments: purge expired idempotency keys", "payments.tasks.idempotency_keys_purge", 3600),
]


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in JOBS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_simulatorconfig_providernotification_and_more"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
