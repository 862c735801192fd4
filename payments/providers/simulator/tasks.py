"""The simulator's own background work: sending its notifications (with faults).

Scheduling with a Celery countdown is acceptable here because the simulator plays an
external system; the gateway's own recovery never depends on these messages arriving.

Like acquirers that batch their notifications (Adyen's ``notificationItems``), one signed
POST carries every notification a task has due (``{"notifications": [...]}``); the
gateway's endpoint takes that and a single notification alike."""

from __future__ import annotations

import json
import logging
import random

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from payments.providers import http
from payments.providers.simulator import outcomes, signing
from payments.providers.simulator.models import SimulatorTransaction
from payments.providers.simulator.provider import notification_payload, schedule_notifications

logger = logging.getLogger("tender.simulator")
CALLBACK_PATH = "/api/v1/provider-webhooks/simulator"


def callback_url() -> str:
    return settings.SIMULATOR_CALLBACK_BASE_URL + CALLBACK_PATH


def _send(body: bytes) -> int:
    return http.post_json(url=callback_url(), body=body, headers={signing.HEADER: signing.sign(body)})


# Named <module>.<function> like every task published by name (common.tasks imports the module on a
# miss); routed, like every task, by CELERY_TASK_ROUTES (the layout's SIMULATOR_NOTIFY_QUEUE).
@shared_task(
    name="payments.providers.simulator.tasks.simulator_notify",
    bind=True,
    ignore_result=True,
    max_retries=5,
    default_retry_delay=2,
)
def simulator_notify(self, references: str | list[str]) -> str:
    """Report the decided outcomes of ``references`` (one, or a batch), applying the
    configured faults per transaction (drop, duplicate, stale 'pending' after the final
    notification), in one POST; those not decided yet are scheduled again."""
    wanted = [references] if isinstance(references, str) else list(references)
    rows = [
        row
        for row in SimulatorTransaction.objects.filter(reference__in=wanted).order_by("reference")
        if row.outcome != outcomes.TIMEOUT
    ]
    if not rows:
        return "nothing"
    now = timezone.now()
    later = [row for row in rows if row.decide_at > now]
    if later:
        schedule_notifications([(row.reference, (row.decide_at - now).total_seconds() * 1000) for row in later])
    config = outcomes.simulator_config()
    payloads, sent_rows, dropped = [], [], []
    for row in rows:
        if row in later:
            continue
        if random.random() < config.drop_rate:
            dropped.append(row.pk)
            continue
        final = notification_payload(row, status=row.outcome, event_suffix=row.outcome)
        extra = [final] if random.random() < config.duplicate_rate else []  # deduplicated by its id
        if row.kind == "payment" and random.random() < config.reorder_rate:
            extra.append(notification_payload(row, status="pending", event_suffix="pending"))  # late and stale
        payloads += [final, *extra]
        sent_rows.append((row, 1 + len(extra)))
    if dropped:
        SimulatorTransaction.objects.filter(pk__in=dropped).update(notifications_dropped=F("notifications_dropped") + 1)
    if not payloads:
        return "dropped" if dropped else "rescheduled"
    body = payloads[0] if len(payloads) == 1 else {"notifications": payloads}
    try:
        status = _send(json.dumps(body, separators=(",", ":")).encode())
        if status >= 300:
            raise http.HTTPError(f"callback answered {status}")
    except http.HTTPError as exc:
        carried = [row.reference for row, _ in sent_rows]
        logger.warning("simulator notification failed; retrying", extra={"references": carried})
        # Again for those this attempt carried (a redelivered one is deduplicated by its id).
        raise self.retry(args=[carried], exc=exc) from None
    for count in sorted({count for _, count in sent_rows}):
        SimulatorTransaction.objects.filter(pk__in=[row.pk for row, n in sent_rows if n == count]).update(
            notified_status=F("outcome"),
            notified_at=timezone.now(),
            notifications_sent=F("notifications_sent") + count,
        )
    return "sent"
