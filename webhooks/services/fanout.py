"""Fan-out of committed events into deliveries, and the "please drain" messages.

``deliveries_fan_out`` is the durable outbox consumer registered by ``WebhooksConfig``:
it runs inside the outbox dispatcher's transaction, so a delivery row exists exactly when
its event committed, and its drain messages leave only after that commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from django.db import DatabaseError, transaction
from django.utils import timezone

from common.redis import redis_client
from common.tasks import task_send
from payments.event_patterns import event_type_matches
from payments.models import Event
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.claims import endpoints_held

logger = logging.getLogger("tender.webhooks")

# The drain tasks (webhooks.tasks), published by name: the tasks call these services.
FIRST_ATTEMPT_TASK = "webhooks.tasks.webhook_delivery_first_attempt"
RETRY_TASK = "webhooks.tasks.webhook_delivery_retry"


def deliveries_fan_out(events: Sequence[Event]) -> int:
    """Durable outbox consumer: one pending delivery per event x matching enabled endpoint
    with a url. Idempotent (unique (event, endpoint), conflicts ignored)."""
    merchant_ids = {e.merchant_id for e in events}
    endpoints: dict[object, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        merchant_id__in=merchant_ids, enabled=True, deleted_at__isnull=True
    ).exclude(url=""):
        endpoints[endpoint.merchant_id].append(endpoint)
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    for event in events:
        for endpoint in endpoints.get(event.merchant_id, ()):
            if endpoint.mode != event.mode:
                continue  # test and live are separate worlds: a test event never reaches a live endpoint
            if event.type == "webhook.test":
                wanted = event.object_id == endpoint.id  # a test goes to its endpoint only
            else:
                wanted = event_type_matches(endpoint.event_types, event.type)
            if wanted:
                rows.append(
                    WebhookDelivery(
                        merchant_id=event.merchant_id,
                        endpoint_id=endpoint.id,
                        event_id=event.seq,
                        event_type=event.type,
                        next_retry_at=now,
                    )
                )
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    endpoint_ids = sorted({r.endpoint_id for r in rows})
    transaction.on_commit(lambda: drains_enqueue_unless_held(endpoint_ids=endpoint_ids))
    return len(rows)


def drains_enqueue_unless_held(*, endpoint_ids: Sequence[str]) -> None:
    """After the fan-out commit: ask for a drain of each endpoint that no drain holds a
    claim on. A holder looks for due rows again after its release commits
    (``endpoint_drain``), so either this check sees the release or the holder sees these
    rows: skipping the message strands nothing, and under load it saves a task per event."""
    try:
        held = endpoints_held(endpoint_ids=endpoint_ids)
    except DatabaseError:
        held = set()
    drains_enqueue(endpoint_ids=[e for e in endpoint_ids if e not in held], first_attempt=True, coalesce=True)


# Set (NX) for an endpoint when a drain message is published for it; deleted by the drain
# when it starts serving the endpoint (not when the slow lane turns it away: it waits in
# the lane's line, and a message per new event would only be turned away again). While it
# is set, a queued drain will see whatever commits now, so no further message is needed
# (the outbox dispatcher's DISPATCH_QUEUED_KEY, per endpoint). A lost message holds new
# ones back for at most the TTL; the sweeper and retry countdowns never wait for it.
DRAIN_QUEUED_KEY = "tender:webhooks:drain-queued:{}"
DRAIN_QUEUED_TTL_SECONDS = 5


def _drain_queued_mark(endpoint_ids: Sequence[str]) -> list[str]:
    """The endpoints (of these) with no drain message queued, now marked as having one."""
    try:
        pipe = redis_client().pipeline(transaction=False)
        for endpoint_id in endpoint_ids:
            pipe.set(DRAIN_QUEUED_KEY.format(endpoint_id), "1", nx=True, ex=DRAIN_QUEUED_TTL_SECONDS)
        return [e for e, fresh in zip(endpoint_ids, pipe.execute(), strict=True) if fresh]
    except Exception:  # noqa: BLE001 - Redis unreachable: publish regardless
        logger.warning("could not check for queued webhook drains; publishing")
        return list(endpoint_ids)


def drain_queued_clear(*, endpoint_id: str) -> None:
    """A drain starts serving this endpoint: the next commit needs a message of its own."""
    try:
        redis_client().delete(DRAIN_QUEUED_KEY.format(endpoint_id))
    except Exception:  # noqa: BLE001 - Redis unreachable: the flag expires by itself
        logger.warning("could not clear a queued-drain flag", extra={"endpoint_id": endpoint_id})


def drains_enqueue(
    *, endpoint_ids: Sequence[str], first_attempt: bool, countdown: float | None = None, coalesce: bool = False
) -> None:
    """Ask workers to drain these endpoints. Losing the message is harmless (sweeper).
    ``coalesce``: skip endpoints that already have a drain message queued."""
    task = FIRST_ATTEMPT_TASK if first_attempt else RETRY_TASK
    if coalesce and endpoint_ids:
        endpoint_ids = _drain_queued_mark(endpoint_ids)
    if not endpoint_ids:
        return
    for endpoint_id in endpoint_ids:
        try:
            # retry=False: with the broker down, fail at once (the sweeper re-derives the work)
            # instead of holding a request or a worker in publish retries.
            task_send(task, endpoint_id, countdown=countdown or None, retry=False)
        except Exception:  # noqa: BLE001 - broker down: the sweeper re-derives the work
            logger.warning("could not enqueue webhook drain; the sweeper will", extra={"endpoint_id": endpoint_id})
            return
