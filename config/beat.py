"""Celery Beat's scheduler: django-celery-beat's database scheduler, which first refuses to
run in production mode without the required secrets (``common.checks``), as the servers and
workers do."""

from __future__ import annotations

from django_celery_beat.schedulers import DatabaseScheduler

from common.checks import require_production_secrets


class CheckedDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs) -> None:
        require_production_secrets()
        super().__init__(*args, **kwargs)
