"""Webhook endpoints: create, update, delete, rotate secrets, enable/disable, send a test
event, recover failed deliveries, and the merchant's default endpoint (the seed API's
``webhook_url``/``webhook_secret``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import Conflict, InvalidInput
from payments.models import Merchant, creation_mode, merchant_scope
from payments.outbox import event_record
from payments.snapshots import iso
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services.audit import audit_record
from webhooks.services.filters import ALL, event_types_validate
from webhooks.services.requeue import deliveries_requeue
from webhooks.signing import secret_generate
from webhooks.transport import UnsafeUrl, url_validate

MAX_ENDPOINTS_PER_MERCHANT = 16


def _url_checked(url: object, *, allow_empty: bool = False) -> str:
    if url is None or (isinstance(url, str) and not url.strip()):
        if allow_empty:
            return ""
        raise InvalidInput("url is required", field="url", reason="missing_url")
    if not isinstance(url, str):
        raise InvalidInput("url must be a string", field="url", reason="invalid_url")
    try:
        return url_validate(url)
    except UnsafeUrl as exc:
        raise InvalidInput(exc.description, field="url", reason=exc.reason) from exc


def endpoint_active_secrets(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign right now: the current one first, then a rotation's previous
    secret until its grace period ends."""
    now = now or timezone.now()
    active = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        active.append(endpoint.previous_secret)
    return active


def endpoint_create(
    *,
    merchant: Merchant,
    url: object,
    description: str = "",
    event_types: object = None,
    enabled: bool = True,
    actor: str,
) -> WebhookEndpoint:
    """Validate (SSRF guard included) and create an endpoint with a fresh ``whsec_`` secret."""
    checked = _url_checked(url)
    patterns = event_types_validate(event_types)
    with transaction.atomic():
        count = WebhookEndpoint.objects.filter(**merchant_scope(merchant), deleted_at__isnull=True).count()
        if count >= MAX_ENDPOINTS_PER_MERCHANT:
            raise InvalidInput(
                f"a merchant may have at most {MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints",
                reason="too_many_endpoints",
            )
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            mode=creation_mode(merchant),
            url=checked,
            description=(description or "")[:255],
            event_types=patterns,
            enabled=enabled,
            secret=secret_generate(),
        )
        audit_record(merchant_id=merchant.id, action="endpoint_create", actor=actor, endpoint=endpoint)
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: str,
    url: object = None,
    description: str | None = None,
    event_types: object = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields; ``enabled`` goes through enable/disable (which fail or keep
    pending deliveries accordingly)."""
    fields: dict[str, Any] = {}
    if url is not None:
        fields["url"] = _url_checked(url, allow_empty=endpoint.is_default)
        if fields["url"] != endpoint.url:
            fields["slow_lane_until"] = timezone.now()  # a new server starts on probation
    if description is not None:
        fields["description"] = description[:255]
    if event_types is not None:
        fields["event_types"] = event_types_validate(event_types)
    with transaction.atomic():
        if fields:
            fields["updated_at"] = timezone.now()
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
            audit_record(
                merchant_id=endpoint.merchant_id,
                action="endpoint_update",
                actor=actor,
                endpoint=endpoint,
                detail={k: v for k, v in fields.items() if k not in ("updated_at", "slow_lane_until")},
            )
        endpoint.refresh_from_db()
        if enabled is True and not endpoint.enabled:
            endpoint = endpoint_enable(endpoint=endpoint, actor=actor)
        elif enabled is False and endpoint.enabled:
            endpoint = endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.MANUAL, actor=actor)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint, actor: str) -> None:
    """Soft-delete (the delivery history stays); pending deliveries end ``failed``."""
    if endpoint.is_default:
        raise InvalidInput(
            "the default endpoint cannot be deleted; clear its url instead", reason="default_endpoint_undeletable"
        )
    with transaction.atomic():
        now = timezone.now()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(deleted_at=now, enabled=False, updated_at=now)
        _fail_pending(endpoint_id=endpoint.pk, error="endpoint_deleted")
        audit_record(merchant_id=endpoint.merchant_id, action="endpoint_delete", actor=actor, endpoint=endpoint)


def _fail_pending(*, endpoint_id: str, error: str) -> int:
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        next_retry_at=None,
        last_error=error,
        updated_at=timezone.now(),
    )


def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: str, grace_seconds: int | None = None
) -> tuple[WebhookEndpoint, str]:
    """New current secret; the old one keeps signing for ``grace_seconds`` (default 24 h,
    at most 7 days, 0 = stop at once). Returns the endpoint and the new secret."""
    if grace_seconds is None:
        grace_seconds = settings.WEBHOOK_ROTATION_GRACE_SECONDS
    if not isinstance(grace_seconds, int) or isinstance(grace_seconds, bool) or grace_seconds < 0:
        raise InvalidInput(
            "grace_period_seconds must be a non-negative integer",
            field="grace_period_seconds",
            reason="invalid_grace_period",
        )
    if grace_seconds > settings.WEBHOOK_ROTATION_GRACE_MAX_SECONDS:
        raise InvalidInput(
            f"grace_period_seconds must be at most {settings.WEBHOOK_ROTATION_GRACE_MAX_SECONDS} (7 days)",
            field="grace_period_seconds",
            reason="invalid_grace_period",
        )
    new_secret = secret_generate()
    now = timezone.now()
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret=new_secret,
            previous_secret=current.secret if grace_seconds else "",
            previous_secret_expires_at=(now + timedelta(seconds=grace_seconds)) if grace_seconds else None,
            updated_at=now,
        )
        audit_record(
            merchant_id=endpoint.merchant_id,
            action="endpoint_rotate_secret",
            actor=actor,
            endpoint=endpoint,
            detail={"grace_period_seconds": grace_seconds},
        )
    endpoint.refresh_from_db()
    return endpoint, new_secret


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, actor: str) -> WebhookEndpoint:
    """Disable; its pending deliveries end ``failed`` (``recover`` re-sends them later).
    A disable for ``gone``/``failing`` also records a ``webhook_endpoint.disabled`` event,
    which the merchant's other endpoints receive."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now
        )
        if not changed:
            endpoint.refresh_from_db()
            return endpoint
        _fail_pending(endpoint_id=endpoint.pk, error="endpoint_disabled")
        endpoint.refresh_from_db()
        audit_record(
            merchant_id=endpoint.merchant_id,
            action="endpoint_disable",
            actor=actor,
            endpoint=endpoint,
            detail={"reason": reason},
        )
        if reason != WebhookEndpoint.DisabledReason.MANUAL:
            event_record(
                merchant_id=endpoint.merchant_id,
                mode=endpoint.mode,
                type="webhook_endpoint.disabled",
                object_type="webhook_endpoint",
                object_id=endpoint.pk,
                version=1,
                data={"webhook_endpoint": endpoint_snapshot(endpoint)},
            )
    return endpoint


def endpoint_enable(*, endpoint: WebhookEndpoint, actor: str) -> WebhookEndpoint:
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=True, disabled_reason="", disabled_at=None, failing_since=None, updated_at=now
        )
        audit_record(merchant_id=endpoint.merchant_id, action="endpoint_enable", actor=actor, endpoint=endpoint)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as the API and events show it (never the secret)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types or [ALL],
        "enabled": endpoint.enabled,
        "is_default": endpoint.is_default,
        "disabled_reason": endpoint.disabled_reason or None,
        "disabled_at": iso(endpoint.disabled_at),
        "failing_since": iso(endpoint.failing_since),
        "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def endpoint_test(*, endpoint: WebhookEndpoint, actor: str) -> str:
    """Record a ``webhook.test`` event addressed to this endpoint only; return its id."""
    if not endpoint.enabled or not endpoint.url:
        raise Conflict("the endpoint is disabled or has no url", reason="endpoint_disabled")
    with transaction.atomic():
        event = event_record(
            merchant_id=endpoint.merchant_id,
            mode=endpoint.mode,  # fan-out delivers an event only to endpoints of its world
            type="webhook.test",
            object_type="webhook_endpoint",
            object_id=endpoint.pk,
            version=1,
            data={
                "webhook_endpoint": {"id": endpoint.pk, "url": endpoint.url},
                "message": "Test event from Tender: if you can read this, your endpoint works.",
            },
        )
        audit_record(
            merchant_id=endpoint.merchant_id,
            action="endpoint_test",
            actor=actor,
            endpoint=endpoint,
            detail={"event_id": event.id},
        )
    return event.id


def endpoint_recover(*, endpoint: WebhookEndpoint, since: datetime, actor: str) -> int:
    """Re-queue the endpoint's ``failed`` deliveries created since ``since`` (a new
    schedule from attempt 1); returns how many."""
    if not endpoint.enabled or not endpoint.url:
        raise Conflict("enable the endpoint (and give it a url) before recovering", reason="endpoint_disabled")
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since
            ).values_list("id", flat=True)
        )
        count = deliveries_requeue(endpoint_id=endpoint.pk, delivery_ids=ids)
        audit_record(
            merchant_id=endpoint.merchant_id,
            action="endpoint_recover",
            actor=actor,
            endpoint=endpoint,
            detail={"since": iso(since), "count": count},
        )
    return count


# --- the default endpoint (merchant-level webhook_url / webhook_secret) ------------------


def endpoint_default_get_or_create(*, merchant: Merchant) -> WebhookEndpoint:
    """The merchant's default endpoint of the acting key's world (the test world's for the
    dashboard and staff, who act without a key), created without a url if new."""
    mode = creation_mode(merchant)
    found = {"merchant": merchant, "mode": mode, "is_default": True, "deleted_at__isnull": True}
    existing = WebhookEndpoint.objects.filter(**found).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return WebhookEndpoint.objects.create(
                merchant=merchant,
                mode=mode,
                url="",
                description="Default endpoint",
                event_types=[ALL],
                is_default=True,
                secret=secret_generate(),
            )
    except IntegrityError:  # created concurrently: the partial unique constraint decided
        return WebhookEndpoint.objects.get(**found)


def endpoint_default_set_url(*, merchant: Merchant, url: str, actor: str) -> WebhookEndpoint:
    """Set (or clear with "") the merchant-level webhook URL; SSRF-checked like any url."""
    endpoint = endpoint_default_get_or_create(merchant=merchant)
    checked = _url_checked(url, allow_empty=True)
    with transaction.atomic():
        now = timezone.now()
        lane = {"slow_lane_until": now} if checked != endpoint.url else {}  # a new server starts on probation
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=checked, updated_at=now, **lane)
        audit_record(
            merchant_id=merchant.id, action="endpoint_update", actor=actor, endpoint=endpoint, detail={"url": checked}
        )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_default_regenerate_secret(
    *, merchant: Merchant, actor: str, grace_seconds: int | None = None
) -> tuple[WebhookEndpoint, str]:
    """Regenerate the merchant-level webhook secret (a rotation with a grace period)."""
    endpoint = endpoint_default_get_or_create(merchant=merchant)
    return endpoint_rotate_secret(endpoint=endpoint, actor=actor, grace_seconds=grace_seconds)
