"""The Beat sweep of event destinations is gone: the publisher process polls on its own
(webhooks/destinations/runner.py), so the job would only name a task nobody registers."""

from django.db import migrations

SWEEP = "event destinations: sweep lost publishes"


def drop(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("event_destinations", "0003_destination_modes"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
