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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from common.errors import Conflict
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.audit import audit_record
from webhooks.services.claims import (
    LEASE_MARGIN_SECONDS,
    Claim,
    claim_locked,
    delivery_claim_batch,
    endpoint_due_unheld,
    endpoint_in_slow_lane,
    endpoint_lock,
)
from webhooks.services.endpoints import endpoint_active_secrets, endpoint_disable
from webhooks.services.fanout import drain_queued_clear, drains_enqueue
from webhooks.services.requeue import deliveries_requeue
from webhooks.signing import body_encode, payload_build, signature_headers
from webhooks.transport import TransportResult, post

logger = logging.getLogger("tender.webhooks")

__all__ = [
    "deliveries_sweep",
    "delivery_claim_batch",
    "delivery_request_build",
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


def delivery_request_build(
    *, delivery: WebhookDelivery, attempt_number: int, timestamp: int, secrets_active: list[str] | None
) -> tuple[bytes, dict[str, str]]:
    """The body and our headers of one attempt, the one place they are built: ``delivery_send``
    sends them and the dashboard's delivery inspector shows them. ``secrets_active=None``
    (the inspector, when the secrets used are no longer known) leaves the signatures out.
    Raises ``TypeError`` for a payload we refuse to sign (a float)."""
    event = delivery.event
    body = body_encode(
        payload_build(event_id=event.id, event_type=event.type, created_at=event.created_at, data=event.data)
    )
    if secrets_active is None:
        headers = {"webhook-id": event.id, "webhook-timestamp": str(timestamp)}
    else:
        headers = signature_headers(webhook_id=event.id, timestamp=timestamp, body=body, secrets_active=secrets_active)
    headers["X-Webhook-Event"] = event.type
    headers["X-Webhook-Delivery"] = delivery.id
    headers["X-Webhook-Attempt"] = str(attempt_number)
    if event.correlation_id:
        headers["X-Correlation-ID"] = event.correlation_id
    return body, headers


def delivery_send(
    *, endpoint: WebhookEndpoint, delivery: WebhookDelivery, secrets_active: list[str], end_by: float | None = None
) -> Sent:
    """One HTTP attempt (no database writes), over by ``end_by`` (``time.monotonic()``; the
    claim's lease end minus its margin) or the transport's deadline, whichever is first. The
    body is rebuilt from the event, so every retry sends the same bytes with the same
    ``webhook-id``. Never raises: a payload we refuse to sign (a float) or an internal error
    becomes a failed attempt on the record."""
    started_at = timezone.now()
    timestamp = int(started_at.timestamp())
    try:
        body, headers = delivery_request_build(
            delivery=delivery, attempt_number=delivery.attempts + 1, timestamp=timestamp, secrets_active=secrets_active
        )
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


def _record(claim: Claim, sent: list[Sent], *, claim_next: bool = False) -> tuple[list[float], Claim | None]:
    """Write attempts and outcomes, release unsent rows; return the new retry delays and,
    with ``claim_next``, the next claim taken in the same transaction under the endpoint
    lock (so a drain that found this endpoint capped meanwhile never strands its rows)."""
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
            _endpoint_lane(endpoint=endpoint, sent=sent, now=now)
        if gone:
            endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE, actor="system:http_410")
        next_claim = claim_locked(endpoint_id=endpoint.pk) if claim_next and not gone else None
    return delays, next_claim


def _endpoint_health(*, endpoint: WebhookEndpoint, last_ok: bool, now: datetime) -> None:
    """Track continuous failure; disable after WEBHOOK_DISABLE_AFTER_SECONDS of it."""
    if last_ok:
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    if (now - endpoint.failing_since).total_seconds() >= settings.WEBHOOK_DISABLE_AFTER_SECONDS:
        endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.FAILING, actor="system:failing")


def _clean(result: TransportResult) -> bool:
    return result.ok and not attempt_slow(result)


def attempt_slow(result: TransportResult) -> bool:
    """Did this attempt hold its thread long (or was it cut by the deadline)?"""
    return result.latency_ms >= settings.WEBHOOK_SLOW_ATTEMPT_SECONDS * 1000 or result.error_class in (
        "timeout",
        "connect_timeout",
    )


def _endpoint_lane(*, endpoint: WebhookEndpoint, sent: list[Sent], now: datetime) -> None:
    """Which lane the endpoint's next drains run in. A slow attempt puts it in the slow lane
    for WEBHOOK_SLOW_LANE_HOLD_SECONDS; a failed one puts it there until a clean claim (a
    failing endpoint's backlog would otherwise keep a fast-lane thread busy, however fast it
    fails); a claim of only fast, successful attempts takes it out once any hold has passed
    (at once for a new endpoint on probation). ``endpoint`` is the claim's copy, read under
    the endpoint lock this runs under."""
    current = endpoint.slow_lane_until
    if any(attempt_slow(s.result) for s in sent):
        until = now + timedelta(seconds=settings.WEBHOOK_SLOW_LANE_HOLD_SECONDS)
    elif not all(s.result.ok for s in sent):
        until = current if current is not None and current > now else now
    elif current is not None and current <= now:
        until = None
    else:
        return
    if until != current:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(slow_lane_until=until)
        endpoint.slow_lane_until = until


# --- the drain loop ------------------------------------------------------------------------


@dataclass
class DrainResult:
    attempted: int
    succeeded: int
    handoffs: int = 0  # slow lane: waiting endpoints this drain served after its own


class _SlowLane:
    """The slow lane of this process: at most WEBHOOK_SLOW_LANE_THREADS drains of slow-lane
    endpoints at once; the worker's other threads stay free for everyone else. A drain that
    finds the lane full does not wait: its endpoint joins the lane's waiting line (once)
    and the task returns at once. A drain holding a permit serves its endpoint (one claim),
    then the longest-waiting endpoint, and so on while within WEBHOOK_DRAIN_SECONDS, and
    queues its own endpoint at the back if it still has due rows: the permits go round the
    slow endpoints in order. The line is memory only; if it is lost (restart), the sweeper's
    nudges rebuild it from PostgreSQL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._permits = threading.BoundedSemaphore(1)
        self._waiting: dict[str, None] = {}  # insertion-ordered: the waiting line

    def _semaphore(self) -> threading.BoundedSemaphore:
        key = (settings.WEBHOOK_SLOW_LANE_THREADS, os.getpid())
        with self._lock:
            if self._key != key:  # first use in this process (or settings changed in a test)
                self._permits, self._key, self._waiting = threading.BoundedSemaphore(key[0]), key, {}
            return self._permits

    def waiting(self, endpoint_id: str) -> bool:
        with self._lock:
            return endpoint_id in self._waiting

    def enter(self, endpoint_id: str) -> threading.BoundedSemaphore | None:
        """A permit (the endpoint leaves the line: it is served now), or None (it is in the line)."""
        permits = self._semaphore()
        if permits.acquire(blocking=False):
            with self._lock:
                self._waiting.pop(endpoint_id, None)
            return permits
        self.wait(endpoint_id)
        return None

    def wait(self, endpoint_id: str) -> None:
        with self._lock:
            self._waiting.setdefault(endpoint_id, None)

    def next_waiting(self) -> str | None:
        with self._lock:
            if not self._waiting:
                return None
            endpoint_id = next(iter(self._waiting))
            del self._waiting[endpoint_id]
            return endpoint_id


_slow_lane = _SlowLane()


def endpoint_drain(*, endpoint_id: str, time_budget: float | None = None) -> DrainResult:
    """Deliver an endpoint's due rows, batch after batch, within ``time_budget`` seconds;
    leave a continuation on the queue if work remains. Safe to call from any number of
    workers at once (claims decide who sends what). A slow-lane endpoint's drain runs only
    with a slow-lane permit (see ``_SlowLane``) and takes one claim at a time; a fast
    endpoint whose claim turned out slow stops and re-queues (now in the slow lane), so it
    holds a fast-lane thread for one claim at most."""
    # An endpoint in the line is a slow-lane one (no need to ask PostgreSQL again).
    if not _slow_lane.waiting(endpoint_id) and not endpoint_in_slow_lane(endpoint_id=endpoint_id):
        drain_queued_clear(endpoint_id=endpoint_id)  # before the claim reads the rows
        return _drain(endpoint_id=endpoint_id, time_budget=time_budget, slow_lane=False)
    permit = _slow_lane.enter(endpoint_id)
    if permit is None:
        return DrainResult(attempted=0, succeeded=0)  # in line; its queued-drain flag stays until it expires
    drain_queued_clear(endpoint_id=endpoint_id)
    budget = settings.WEBHOOK_DRAIN_SECONDS if time_budget is None else time_budget
    started = time.monotonic()
    try:
        result = _drain(endpoint_id=endpoint_id, time_budget=time_budget, slow_lane=True)
        while time.monotonic() - started <= budget or result.handoffs == 0:
            waiting = _slow_lane.next_waiting()
            if waiting is None:
                break
            drain_queued_clear(endpoint_id=waiting)
            served = _drain(endpoint_id=waiting, time_budget=time_budget, slow_lane=True)
            result = DrainResult(
                attempted=result.attempted + served.attempted,
                succeeded=result.succeeded + served.succeeded,
                handoffs=result.handoffs + 1,
            )
        return result
    finally:
        permit.release()


def _drain(*, endpoint_id: str, time_budget: float | None, slow_lane: bool) -> DrainResult:
    budget = settings.WEBHOOK_DRAIN_SECONDS if time_budget is None else time_budget
    started = time.monotonic()
    attempted = succeeded = 0
    retry_delays: list[float] = []
    # A slow-lane turn is one round of parallel requests; then the next endpoint's turn.
    claim = delivery_claim_batch(
        endpoint_id=endpoint_id, limit=settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS if slow_lane else None
    )
    while claim is not None:
        secrets_active = endpoint_active_secrets(endpoint=claim.endpoint)
        sent = _send_claimed(claim=claim, secrets_active=secrets_active)
        # A fast-lane drain leaves once its endpoint is no longer fast (now in the slow lane).
        leave = slow_lane or time.monotonic() - started > budget or not all(_clean(s.result) for s in sent)
        delays, claim = _record(claim, sent, claim_next=not leave)
        retry_delays += delays
        attempted += len(sent)
        succeeded += sum(1 for s in sent if s.result.ok)
        if leave:
            if endpoint_due_unheld(endpoint_id=endpoint_id):
                if slow_lane:
                    _slow_lane.wait(endpoint_id)  # to the back of the line
                else:
                    drains_enqueue(endpoint_ids=[endpoint_id], first_attempt=True, coalesce=True)
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
