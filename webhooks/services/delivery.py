"""Delivery: sending, recording, the drain loop, retries, manual retry, sweeping.

Life of a delivery (a ``webhook_logs`` row):

1. ``deliveries_fan_out`` (:mod:`webhooks.services.fanout`, a durable outbox consumer)
   inserts one row per event x subscribed endpoint (``ON CONFLICT DO NOTHING``), due now,
   and after commit asks for one drain per endpoint on the ``webhooks`` queue, unless a
   drain holds that endpoint (the holder looks again after its release commits).
2. ``endpoint_drain`` claims due rows of one endpoint in a batch
   (:mod:`webhooks.services.claims`): under a per-endpoint
   advisory lock it checks the endpoint's claims in flight against
   ``WEBHOOK_ENDPOINT_MAX_IN_FLIGHT`` and leases rows with ``FOR UPDATE SKIP LOCKED``
   (``locked_until`` + ``lease_token``). A capped drain returns at once: the holder of the
   claim re-checks for due rows under the same lock before it stops, so nothing strands.
3. Each row is sent through :mod:`webhooks.transport`; results are written in one
   transaction, only where the lease token still matches. A failure schedules
   ``next_retry_at`` in PostgreSQL (delays from settings, jitter, ``Retry-After``); the last
   failure ends ``failed``; ``410`` disables the endpoint.
4. Retries due soon also get a short Celery countdown; ``deliveries_sweep`` (Beat) finds
   every due or orphaned row (lost message, flushed Redis, killed worker whose lease
   expired) and asks for a drain again. Claims make duplicate asks harmless.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from payments.api.errors import Conflict
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.audit import audit_record
from webhooks.services.claims import (
    LEASE_MARGIN_SECONDS,
    Claim,
    claim_locked,
    delivery_claim_batch,
    endpoint_due_unheld,
    endpoint_lock,
)
from webhooks.services.fanout import drains_enqueue
from webhooks.signing import body_encode, payload_build, signature_headers
from webhooks.transport import TransportResult, post

logger = logging.getLogger("tender.webhooks")

__all__ = [
    "deliveries_requeue",
    "deliveries_sweep",
    "delivery_claim_batch",
    "delivery_retry",
    "delivery_send",
    "endpoint_drain",
    "retry_delay_seconds",
]

# --- sending -----------------------------------------------------------------------------


@dataclass
class Sent:
    delivery: WebhookDelivery
    started_at: datetime
    timestamp: int
    result: TransportResult


def delivery_send(
    *, endpoint: WebhookEndpoint, delivery: WebhookDelivery, secrets_active: list[str], end_by: float | None = None
) -> Sent:
    """One HTTP attempt (no database writes), over by ``end_by`` (``time.monotonic()``; the
    claim's lease end minus its margin) or the transport's deadline, whichever is first. The
    body is rebuilt from the event, so every retry sends the same bytes with the same
    ``webhook-id``. Never raises: a payload we refuse to sign (a float) or an internal error
    becomes a failed attempt on the record."""
    event = delivery.event
    started_at = timezone.now()
    timestamp = int(started_at.timestamp())
    try:
        body = body_encode(
            payload_build(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)
        )
        headers = signature_headers(webhook_id=event.id, timestamp=timestamp, body=body, secrets_active=secrets_active)
        headers["X-Webhook-Event"] = event.type
        headers["X-Webhook-Delivery"] = delivery.id
        headers["X-Webhook-Attempt"] = str(delivery.attempts + 1)
        if event.correlation_id:
            headers["X-Correlation-ID"] = event.correlation_id
        result = post(url=endpoint.url, body=body, headers=headers, deadline=end_by)
    except Exception as exc:
        logger.exception("webhook attempt could not be made", extra={"delivery_id": delivery.id})
        error_class = "invalid_payload" if isinstance(exc, TypeError) else "internal_error"
        result = TransportResult(
            ok=False,
            status_code=None,
            latency_ms=0,
            body="",
            error_class=error_class,
            error=str(exc)[:512],
            retry_after_seconds=None,
            gone=False,
        )
    return Sent(delivery=delivery, started_at=started_at, timestamp=timestamp, result=result)


# --- recording ---------------------------------------------------------------------------


def retry_delay_seconds(*, attempt_number: int, retry_after: int | None = None) -> float | None:
    """Delay before the attempt after failed attempt ``attempt_number`` (1-based), or None
    when the schedule is exhausted. Jitter +/- WEBHOOK_RETRY_JITTER; a ``Retry-After``
    longer than the schedule is honoured up to WEBHOOK_RETRY_AFTER_MAX_SECONDS."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempt_number > len(delays):
        return None
    delay = float(delays[attempt_number - 1])
    jitter = settings.WEBHOOK_RETRY_JITTER
    if jitter:
        delay *= 1 + random.uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, float(min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS)))
    return delay


def max_attempts() -> int:
    return len(settings.WEBHOOK_RETRY_DELAYS) + 1


def _record(claim: Claim, sent: list[Sent], *, claim_next: bool = False) -> tuple[list[float], Claim | None]:
    """Write attempts and outcomes, release unsent rows; return the new retry delays and,
    with ``claim_next``, the next claim taken in the same transaction under the endpoint
    lock (so a drain that found this endpoint capped meanwhile never strands its rows)."""
    from webhooks.services.endpoints import endpoint_disable

    endpoint = claim.endpoint
    now = timezone.now()
    delays: list[float] = []
    gone = False
    with transaction.atomic():
        endpoint_lock(endpoint.pk, relaxed_commit=settings.WEBHOOK_RELAXED_COMMIT)
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    delivery_id=s.delivery.id,
                    number=s.delivery.attempts + 1,
                    started_at=s.started_at,
                    url=endpoint.url,
                    status_code=s.result.status_code,
                    latency_ms=s.result.latency_ms,
                    response_body=s.result.body,
                    error_class=s.result.error_class,
                    error=s.result.error[:512],
                    webhook_timestamp=s.timestamp,
                )
                for s in sent
            ]
        )
        mine = WebhookDelivery.objects.filter(lease_token=claim.token)
        by_code: dict[int | None, list[str]] = defaultdict(list)
        for s in sent:
            if s.result.ok:
                by_code[s.result.status_code].append(s.delivery.id)
                continue
            number = s.delivery.attempts + 1
            delay = (
                None
                if s.result.gone
                else retry_delay_seconds(attempt_number=number, retry_after=s.result.retry_after_seconds)
            )
            gone = gone or s.result.gone
            fields = {
                "attempts": number,
                "last_attempt_at": s.started_at,
                "response_code": s.result.status_code,
                "last_error": s.result.error_class[:64],
                "locked_until": None,
                "lease_token": None,
                "updated_at": now,
            }
            if delay is None:
                fields.update(status=DeliveryStatus.FAILED, next_retry_at=None)
            else:
                fields["next_retry_at"] = now + timedelta(seconds=delay)
                delays.append(delay)
            mine.filter(pk=s.delivery.id).update(**fields)
        for code, ids in by_code.items():
            mine.filter(pk__in=ids).update(
                status=DeliveryStatus.SUCCESS,
                attempts=F("attempts") + 1,
                last_attempt_at=now,
                response_code=code,
                last_error="",
                next_retry_at=None,
                locked_until=None,
                lease_token=None,
                updated_at=now,
            )
        if len(sent) < len(claim.deliveries):
            # Rows not sent this round (lease nearly used up) go back to the pool, still due.
            mine.update(locked_until=None, lease_token=None)
        if sent:
            _endpoint_health(endpoint=endpoint, last_ok=sent[-1].result.ok, now=now)
        if gone:
            endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE, actor="system:http_410")
        next_claim = claim_locked(endpoint_id=endpoint.pk) if claim_next and not gone else None
    return delays, next_claim


def _endpoint_health(*, endpoint: WebhookEndpoint, last_ok: bool, now: datetime) -> None:
    """Track continuous failure; disable after WEBHOOK_DISABLE_AFTER_SECONDS of it."""
    from webhooks.services.endpoints import endpoint_disable

    if last_ok:
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    if (now - endpoint.failing_since).total_seconds() >= settings.WEBHOOK_DISABLE_AFTER_SECONDS:
        endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.FAILING, actor="system:failing")


# --- the drain loop ------------------------------------------------------------------------


@dataclass
class DrainResult:
    attempted: int
    succeeded: int


def endpoint_drain(*, endpoint_id: str, time_budget: float | None = None) -> DrainResult:
    """Deliver an endpoint's due rows, batch after batch, within ``time_budget`` seconds;
    leave a continuation on the queue if work remains. Safe to call from any number of
    workers at once (claims decide who sends what)."""
    from webhooks.services.endpoints import endpoint_active_secrets

    budget = settings.WEBHOOK_DRAIN_SECONDS if time_budget is None else time_budget
    started = time.monotonic()
    attempted = succeeded = 0
    retry_delays: list[float] = []
    claim = delivery_claim_batch(endpoint_id=endpoint_id)
    while claim is not None:
        secrets_active = endpoint_active_secrets(endpoint=claim.endpoint)
        sent = _send_claimed(claim=claim, secrets_active=secrets_active)
        over_budget = time.monotonic() - started > budget
        delays, claim = _record(claim, sent, claim_next=not over_budget)
        retry_delays += delays
        attempted += len(sent)
        succeeded += sum(1 for s in sent if s.result.ok)
        if over_budget:
            drains_enqueue(endpoint_ids=[endpoint_id], first_attempt=True)
            break
        if claim is None and endpoint_due_unheld(endpoint_id=endpoint_id):
            # Rows committed while we held the claim got no drain message (the fan-out saw
            # our claim); our release has committed, so this look cannot miss them.
            claim = delivery_claim_batch(endpoint_id=endpoint_id)
    _retries_nudge(endpoint_id=endpoint_id, delays=retry_delays)
    return DrainResult(attempted=attempted, succeeded=succeeded)


_local = threading.local()


def _pool() -> ThreadPoolExecutor:
    """Helper threads for the HTTP requests of one claim, one small executor per calling
    thread: a prefork child has one, a ``--pool=threads`` worker one per slot. Shared, a
    hanging endpoint's requests would occupy threads another slot's claim waits for.
    Created lazily and tied to the process (a forked child never uses its parent's)."""
    executor = getattr(_local, "executor", None)
    if executor is None or _local.pid != os.getpid():
        executor = ThreadPoolExecutor(
            max_workers=max(1, settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS - 1), thread_name_prefix="webhook-send"
        )
        _local.executor, _local.pid = executor, os.getpid()
    return executor


def claim_send_window() -> float:
    """Seconds after its claim during which attempts may start. Short (1 s), so each
    attempt's result is recorded within about its own deadline (a claim's results are
    written together), and never so long that an attempt could outlive the lease."""
    lease_room = settings.WEBHOOK_DELIVERY_LEASE_SECONDS - settings.WEBHOOK_TOTAL_TIMEOUT - LEASE_MARGIN_SECONDS
    return max(0.0, min(settings.WEBHOOK_CLAIM_SEND_SECONDS, lease_room))


def _send_claimed(*, claim: Claim, secrets_active: list[str]) -> list[Sent]:
    """Send a claim's deliveries, up to WEBHOOK_ENDPOINT_PARALLEL_REQUESTS at a time (one
    worker slot and its own helper threads: a hanging endpoint still holds only this slot).
    Attempts start only within the claim's send window and each is cut at the lease end
    minus the margin at the latest; the rest go back to the pool; a 410 stops the batch.
    Helper threads only do HTTP and never open a database connection (nothing would close
    it); every database access stays in the calling thread."""
    parallel = max(1, min(settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS, len(claim.deliveries)))
    send_until = claim_send_window()
    queue = iter(claim.deliveries)
    lock = threading.Lock()
    sent: list[Sent] = []
    state = {"started": 0, "stop": False}

    def loop() -> None:
        while True:
            with lock:
                late = state["started"] and time.monotonic() - claim.claimed_at > send_until
                delivery = None if state["stop"] or late else next(queue, None)
                if delivery is None:
                    return
                state["started"] += 1
            result = delivery_send(
                endpoint=claim.endpoint, delivery=delivery, secrets_active=secrets_active, end_by=claim.attempts_end_by
            )
            with lock:
                sent.append(result)
                if result.result.gone:
                    state["stop"] = True

    # The calling thread sends too, so a claim needs parallel - 1 helper threads. If its own
    # sending is interrupted (a prefork child's SIGTERM raises SystemExit in it) the task
    # ends without waiting for the helpers' requests: the lease returns their rows.
    futures = [_pool().submit(loop) for _ in range(parallel - 1)]
    loop()
    for future in futures:
        future.result()
    return sent


def _retries_nudge(*, endpoint_id: str, delays: list[float]) -> None:
    """Short retries get a countdown message so they run on time; long ones wait for the
    sweeper (no long countdowns in the broker)."""
    soon = sorted({round(d, 1) for d in delays if d <= settings.WEBHOOK_RETRY_ETA_MAX_SECONDS})[:5]
    for delay in soon:
        drains_enqueue(endpoint_ids=[endpoint_id], first_attempt=False, countdown=delay + 0.05)


# --- manual retry, recover, sweep --------------------------------------------------------------


def deliveries_requeue(*, endpoint_id: str, delivery_ids: Sequence[str]) -> int:
    """Start a new schedule for these deliveries (pending, attempt 0, due now) unless one
    is in flight; enqueue a drain after commit."""
    if not delivery_ids:
        return 0
    now = timezone.now()
    count = (
        WebhookDelivery.objects.filter(pk__in=list(delivery_ids))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_retry_at=now,
            locked_until=None,
            lease_token=None,
            last_error="",
            updated_at=now,
        )
    )
    transaction.on_commit(lambda: drains_enqueue(endpoint_ids=[endpoint_id], first_attempt=False))
    return count


def delivery_retry(*, delivery: WebhookDelivery, actor: str) -> WebhookDelivery:
    """Manual retry (API, dashboard, admin): reset to pending and send again, audited.
    409 if an attempt is in flight or the endpoint cannot receive."""
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
        endpoint = current.endpoint
        if not endpoint.enabled or not endpoint.url or endpoint.deleted_at is not None:
            raise Conflict("the delivery's endpoint is disabled; enable it first", reason="endpoint_disabled")
        if current.locked_until is not None and current.locked_until > timezone.now():
            raise Conflict("an attempt of this delivery is in flight", reason="delivery_in_flight")
        deliveries_requeue(endpoint_id=endpoint.pk, delivery_ids=[current.pk])
        audit_record(
            merchant_id=current.merchant_id,
            action="delivery_retry",
            actor=actor,
            endpoint=endpoint,
            delivery=current,
            detail={"previous_status": current.status, "previous_attempts": current.attempts},
        )
    current.refresh_from_db()
    return current


def deliveries_sweep(*, limit: int = 1000) -> int:
    """Beat job: ask for a drain of every endpoint with due or orphaned (lease expired)
    deliveries. Returns how many endpoints were nudged."""
    now = timezone.now()
    rows = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_retry_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .values("endpoint_id")
        .annotate(first=Min("attempts"))
        .order_by()[:limit]
    )
    first = [r["endpoint_id"] for r in rows if r["first"] == 0]
    retry = [r["endpoint_id"] for r in rows if r["first"] != 0]
    drains_enqueue(endpoint_ids=first, first_attempt=True)
    drains_enqueue(endpoint_ids=retry, first_attempt=False)
    return len(rows)
