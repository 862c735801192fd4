"""The simulator's own background work: sending its notifications (with faults).

Scheduling with a Celery countdown is acceptable here because the simulator plays an
external system; the gateway's own recovery never depends on these messages arriving."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from payments.providers import http
from payments.providers.simulator import outcomes, signing
from payments.providers.simulator.models import SimulatorTransaction
from payments.providers.simulator.provider import notification_body

logger = logging.getLogger("tender.simulator")
CALLBACK_PATH = "/api/v1/provider-webhooks/simulator"


def callback_url() -> str:
    return settings.SIMULATOR_CALLBACK_BASE_URL + CALLBACK_PATH


def _send(body: bytes) -> int:
    return http.post_json(url=callback_url(), body=body, headers={signing.HEADER: signing.sign(body)})


@shared_task(name="simulator.notify", bind=True, ignore_result=True, max_retries=5, default_retry_delay=2)
def simulator_notify(self, reference: str) -> str:
    """Report a decided outcome, applying the configured faults (drop, duplicate,
    stale 'pending' after the final notification)."""
    row = SimulatorTransaction.objects.filter(reference=reference).first()
    if row is None or row.outcome == outcomes.TIMEOUT:
        return "nothing"
    config = outcomes.simulator_config()
    if random.random() < config.drop_rate:
        SimulatorTransaction.objects.filter(pk=row.pk).update(notifications_dropped=F("notifications_dropped") + 1)
        return "dropped"
    final = row.outcome
    bodies = [notification_body(row, status=final, event_suffix=final)]
    if random.random() < config.duplicate_rate:
        bodies.append(bodies[0])  # the same event again: deduplicated by its id
    if row.kind == "payment" and random.random() < config.reorder_rate:
        bodies.append(notification_body(row, status="pending", event_suffix="pending"))  # late and stale
    sent = 0
    try:
        for body in bodies:
            status = _send(body)
            if status >= 300:
                raise http.HTTPError(f"callback answered {status}")
            sent += 1
    except http.HTTPError as exc:
        logger.warning("simulator notification failed; retrying", extra={"reference": reference})
        raise self.retry(exc=exc) from None
    finally:
        if sent:
            SimulatorTransaction.objects.filter(pk=row.pk).update(
                notified_status=final,
                notified_at=timezone.now(),
                notifications_sent=F("notifications_sent") + sent,
            )
    return "sent"
