"""Celery entry points of event destinations (queue ``event_streams``): ids only."""

from celery import shared_task

from webhooks.destinations.publishing import destination_publish, destinations_sweep


@shared_task(name="webhooks.destinations.tasks.event_destination_publish", ignore_result=True)
def event_destination_publish(destination_id: str) -> int:
    return destination_publish(destination_id=destination_id).published


@shared_task(name="webhooks.destinations.tasks.event_destinations_sweep", ignore_result=True)
def event_destinations_sweep() -> int:
    """Beat job: re-derive publishes lost with a message, a flushed Redis or a dead worker."""
    return destinations_sweep()
