"""Event destinations: register, change, delete and replay (move the cursor).

Every write is audited in ``webhook_audit`` (the webhooks' trail, with the destination id
in ``detail``). Broker URLs pass the webhook SSRF policy here and again at every connect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.errors import InvalidInput
from payments.models import Event, Merchant, creation_mode, merchant_scope
from payments.selectors.events import event_log_after, event_log_horizon
from webhooks.destinations.brokers import broker_url_parse
from webhooks.destinations.brokers.registry import adapter_for, destination_types
from webhooks.destinations.models import SEQ_END, EventDestination, new_destination_id
from webhooks.destinations.publishing import destinations_wake
from webhooks.services.audit import audit_record
from webhooks.services.filters import event_types_validate

MAX_DESTINATIONS_PER_MERCHANT = 16


def _type_checked(value: object) -> str:
    if value not in destination_types():
        raise InvalidInput(
            "type must be one of " + ", ".join(destination_types()), field="type", reason="invalid_destination_type"
        )
    return str(value)


def _target_checked(
    *, type: str, target: object, merchant_id: object, destination_id: str, current: EventDestination | None = None
) -> tuple[dict[str, Any], str]:
    """The stored target (URL without credentials + the type's keys) and the credentials.
    On an update without ``url`` the current URL and credentials are kept."""
    if not isinstance(target, dict):
        raise InvalidInput("target must be an object", field="target", reason="invalid_target")
    adapter = adapter_for(type)
    if "url" not in target and current is not None:
        url, credentials = current.target["url"], current.credentials
        own = {k: v for k, v in current.target.items() if k != "url"}
        own.update(target)
        target = own
    else:
        broker = broker_url_parse(target.get("url"), schemes=adapter.SCHEMES, default_ports=adapter.DEFAULT_PORTS)
        adapter.url_check(broker)
        url, credentials = broker.public, broker.credentials
    rest = {k: v for k, v in target.items() if k != "url"}
    cleaned = adapter.target_clean(rest, merchant_id=str(merchant_id), destination_id=destination_id)
    unknown = sorted(set(rest) - set(cleaned))
    if unknown:
        raise InvalidInput(
            f"target has unknown keys for {type}: {', '.join(unknown)}", field="target", reason="invalid_target"
        )
    return {"url": url, **cleaned}, credentials


def _audit(destination: EventDestination, *, action: str, actor: str, detail: dict[str, Any] | None = None) -> None:
    audit_record(
        merchant_id=destination.merchant_id,
        action=action,
        actor=actor,
        detail={"destination_id": destination.pk, **(detail or {})},
    )


def destination_create(
    *,
    merchant: Merchant,
    type: object,
    target: object,
    event_types: object = None,
    description: str = "",
    enabled: bool = True,
    actor: str,
) -> EventDestination:
    """Validate (SSRF policy included) and register a destination. Its cursor starts at the
    visibility horizon: events of transactions still open now are published, earlier ones
    are history (``replay`` sends those)."""
    checked_type = _type_checked(type)
    destination_id = new_destination_id()
    stored, credentials = _target_checked(
        type=checked_type, target=target, merchant_id=merchant.pk, destination_id=destination_id
    )
    patterns = event_types_validate(event_types)
    with transaction.atomic():
        count = EventDestination.objects.filter(**merchant_scope(merchant)).count()
        if count >= MAX_DESTINATIONS_PER_MERCHANT:
            raise InvalidInput(
                f"a merchant may have at most {MAX_DESTINATIONS_PER_MERCHANT} event destinations",
                reason="too_many_destinations",
            )
        destination = EventDestination.objects.create(
            id=destination_id,
            merchant=merchant,
            mode=creation_mode(merchant),
            type=checked_type,
            target=stored,
            credentials=credentials,
            event_types=patterns,
            description=(description or "")[:255],
            enabled=enabled,
            cursor_txid=event_log_horizon() - 1,
            cursor_seq=SEQ_END,
        )
        _audit(destination, action="destination_create", actor=actor, detail={"type": checked_type})
    return destination


def destination_update(
    *,
    destination: EventDestination,
    actor: str,
    target: object = None,
    event_types: object = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> EventDestination:
    """Change the given fields (the type is fixed). A ``target`` without ``url`` changes
    only the keys it names. Enabling again publishes from where the cursor stopped."""
    fields: dict[str, Any] = {}
    if target is not None:
        fields["target"], fields["credentials"] = _target_checked(
            type=destination.type,
            target=target,
            merchant_id=destination.merchant_id,
            destination_id=destination.pk,
            current=destination,
        )
    if event_types is not None:
        fields["event_types"] = event_types_validate(event_types)
    if description is not None:
        fields["description"] = description[:255]
    if enabled is not None:
        fields["enabled"] = enabled
        if enabled:  # a fresh start: no backoff left over from before the disable
            fields.update(next_attempt_at=None, consecutive_failures=0, failing_since=None, failure_notified_at=None)
    if fields:
        with transaction.atomic():
            fields["updated_at"] = timezone.now()
            EventDestination.objects.filter(pk=destination.pk).update(**fields)
            shown = sorted(k for k in fields if k not in ("credentials", "updated_at"))
            _audit(destination, action="destination_update", actor=actor, detail={"fields": shown})
            if enabled:
                destinations_wake(destination_ids=[destination.pk])  # sent when this commits
    destination.refresh_from_db()
    return destination


def destination_delete(*, destination: EventDestination, actor: str) -> None:
    """Delete the destination and its cursor (a running publisher's writes then match
    nothing and it stops); the audit trail keeps the record."""
    with transaction.atomic():
        _audit(destination, action="destination_delete", actor=actor, detail={"type": destination.type})
        EventDestination.objects.filter(pk=destination.pk).delete()


def destination_replay(
    *, destination: EventDestination, actor: str, after: str | None = None, since: datetime | None = None
) -> EventDestination:
    """Move the cursor: to just after the event ``after``, or to just before the first event
    (in log order) created at or after ``since``. Everything from there is published again
    (consumers deduplicate by event id). A publisher running meanwhile notices (its cursor
    update no longer matches) and continues from the new position."""
    if (after is None) == (since is None):
        raise InvalidInput("give exactly one of after or since", reason="invalid_replay")
    # The horizon first: every transaction below it has finished, so the looks below see all
    # of their events, and a position capped at the horizon never jumps over a transaction
    # still open (its events would be skipped; capped, at most something is sent again).
    horizon = event_log_horizon()
    if after is not None:
        anchor = (  # an event of the destination's world only (test and live are separate)
            Event.objects.filter(merchant_id=destination.merchant_id, mode=destination.mode, id=after)
            .values_list("txid", "seq")
            .first()
        )
        if anchor is None:
            raise InvalidInput("after is not an event id of this merchant", field="after", reason="invalid_cursor")
        position = (anchor[0], anchor[1])
    else:
        first = (
            event_log_after(merchant_id=destination.merchant_id, txid=-1, seq=-1, visible_only=False)
            .filter(mode=destination.mode, created_at__gte=since)
            .values_list("txid", "seq")
            .first()
        )
        # Nothing created since then: the cursor goes to the horizon (nothing to re-send).
        position = (first[0], first[1] - 1) if first else (horizon - 1, SEQ_END)
    position = min(position, (horizon - 1, SEQ_END))
    with transaction.atomic():
        EventDestination.objects.filter(pk=destination.pk).update(
            cursor_txid=position[0], cursor_seq=position[1], updated_at=timezone.now()
        )
        _audit(
            destination,
            action="destination_replay",
            actor=actor,
            detail={"after": after} if after is not None else {"since": since.isoformat()},
        )
        destinations_wake(destination_ids=[destination.pk])  # sent when this commits
    destination.refresh_from_db()
    return destination
