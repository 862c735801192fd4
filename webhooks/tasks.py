"""Celery entry points of webhooks: thin wrappers over services, ids only.

``webhook_delivery_first_attempt`` runs on the ``webhooks`` queue; everything else here
(retries, the sweeper) on ``webhook_retries`` (routes in settings), so first attempts
never queue behind retries.
"""

from celery import shared_task

from webhooks.services.delivery import deliveries_sweep, endpoint_drain


@shared_task(name="webhooks.tasks.webhook_delivery_first_attempt", ignore_result=True)
def webhook_delivery_first_attempt(endpoint_id: str) -> int:
    return endpoint_drain(endpoint_id=endpoint_id).attempted


@shared_task(name="webhooks.tasks.webhook_delivery_retry", ignore_result=True)
def webhook_delivery_retry(endpoint_id: str) -> int:
    return endpoint_drain(endpoint_id=endpoint_id).attempted


@shared_task(name="webhooks.tasks.webhook_sweep", ignore_result=True)
def webhook_sweep() -> int:
    """Beat job: re-derive due and orphaned deliveries from PostgreSQL."""
    return deliveries_sweep()
