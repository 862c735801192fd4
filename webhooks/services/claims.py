"""Claims: a worker leases a batch of one endpoint's due deliveries.

Under a transaction-scoped advisory lock per endpoint, the endpoint's live claims (distinct
``lease_token`` with ``locked_until`` in the future) are counted against
``WEBHOOK_ENDPOINT_MAX_IN_FLIGHT``; due rows are leased with ``FOR UPDATE SKIP LOCKED``.
A crashed worker's lease simply expires and the rows are due again.

The lease is also the fencing token's lifetime: no attempt of a claim starts after its send
window, and every attempt is cut at the claim's lease end minus ``LEASE_MARGIN_SECONDS`` at
the latest (the transport's watchdog), so a live claim never has an attempt in flight past
its lease; results are written only where ``lease_token`` still matches, so a late result
(a worker paused past its lease) changes nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# An attempt ends at least this long before its claim's lease runs out (clock skew between
# hosts, the time to record the result).
LEASE_MARGIN_SECONDS = 2.0


@dataclass
class Claim:
    endpoint: WebhookEndpoint
    token: uuid.UUID
    deliveries: list[WebhookDelivery]
    claimed_at: float  # time.monotonic(), read with the lease's start time
    lease_ends: float  # time.monotonic() at which the lease in PostgreSQL runs out

    @property
    def attempts_end_by(self) -> float:
        """No attempt of this claim may be in flight after this (monotonic) time."""
        return self.lease_ends - LEASE_MARGIN_SECONDS


def endpoint_lock(endpoint_id: str, *, relaxed_commit: bool = False) -> None:
    """Serialise claims of one endpoint (transaction-scoped advisory lock). ``relaxed_commit``
    also sets ``synchronous_commit=off`` for this transaction in the same round trip: claims
    and attempt results may commit without waiting for the WAL flush, because if PostgreSQL
    crashed in the next milliseconds the worst case is a delivery sent once more (at least
    once, never lost: the fan-out rows themselves commit durably)."""
    sql = "SELECT pg_advisory_xact_lock(hashtext(%s))"
    if relaxed_commit:
        sql += ", set_config('synchronous_commit', 'off', true)"
    with connection.cursor() as cursor:
        cursor.execute(sql, [f"webhook-endpoint:{endpoint_id}"])


_IN_FLIGHT_SQL = (
    "SELECT count(DISTINCT l.lease_token) FROM webhook_logs l "
    "WHERE l.endpoint_id = webhook_endpoints.id AND l.status = 'pending' AND l.locked_until > %s"
)
_CLAIM_SQL = """
UPDATE webhook_logs SET locked_until = %s, lease_token = %s
WHERE id IN (
    SELECT id FROM webhook_logs
    WHERE endpoint_id = %s AND status = 'pending' AND next_retry_at <= %s
      AND (locked_until IS NULL OR locked_until <= %s)
    ORDER BY next_retry_at, event_id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def delivery_claim_batch(*, endpoint_id: str, limit: int | None = None) -> Claim | None:
    """Lease up to ``limit`` due deliveries of one endpoint, or None (nothing due, endpoint
    disabled, or the endpoint already has its maximum of claims in flight)."""
    with transaction.atomic():
        endpoint_lock(endpoint_id, relaxed_commit=settings.WEBHOOK_RELAXED_COMMIT)
        return claim_locked(endpoint_id=endpoint_id, limit=limit)


def claim_locked(*, endpoint_id: str, limit: int | None = None) -> Claim | None:
    """The claim itself; the caller holds the endpoint's advisory lock in its transaction."""
    limit = limit or settings.WEBHOOK_BATCH_SIZE
    now, started = timezone.now(), time.monotonic()
    endpoint = (
        WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True, deleted_at__isnull=True)
        .exclude(url="")
        .annotate(in_flight=RawSQL(_IN_FLIGHT_SQL, (now,)))  # noqa: S611 - constant SQL, bound params
        .first()
    )
    if endpoint is None or endpoint.in_flight >= settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT:
        return None
    token = uuid.uuid4()
    until = now + timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [until, token, endpoint_id, now, now, limit])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return None
    deliveries = list(
        WebhookDelivery.objects.filter(pk__in=ids).select_related("event").order_by("next_retry_at", "event_id")
    )
    lease = settings.WEBHOOK_DELIVERY_LEASE_SECONDS
    return Claim(endpoint=endpoint, token=token, deliveries=deliveries, claimed_at=started, lease_ends=started + lease)


def endpoint_in_slow_lane(*, endpoint_id: str) -> bool:
    """Do this endpoint's drains belong in the slow lane? (New endpoints, and ones whose
    attempts were slow lately: see ``WebhookEndpoint.slow_lane_until``.)"""
    return WebhookEndpoint.objects.filter(pk=endpoint_id, slow_lane_until__isnull=False).exists()


def endpoints_held(*, endpoint_ids: Sequence[str]) -> set[str]:
    """Endpoints (of these) on which a drain holds a live claim right now."""
    return set(
        WebhookDelivery.objects.filter(
            endpoint_id__in=list(endpoint_ids), status=DeliveryStatus.PENDING, locked_until__gt=timezone.now()
        )
        .values_list("endpoint_id", flat=True)
        .distinct()
    )


def endpoint_due_unheld(*, endpoint_id: str) -> bool:
    """Does the endpoint have due rows and no live claim? (A releasing holder's last look.)"""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_retry_at__lte=now
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
    return due.exists() and not endpoints_held(endpoint_ids=[endpoint_id])
