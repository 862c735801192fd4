"""Celery entry points of the outbox (queue ``outbox``): thin wrappers over services."""

from celery import shared_task

from payments.outbox import outbox_dispatch_all


@shared_task(name="payments.outbox_tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    return outbox_dispatch_all()


@shared_task(name="payments.outbox_tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    """Beat job: dispatch whatever a lost nudge left behind."""
    return outbox_dispatch_all()
