"""The audit trail of manual webhook actions (retry, recover, rotate, enable/disable)."""

from __future__ import annotations

from typing import Any

from common.correlation import get_correlation_id
from webhooks.models import WebhookAudit, WebhookDelivery, WebhookEndpoint


def audit_record(
    *,
    merchant_id: Any,
    action: str,
    actor: str,
    endpoint: WebhookEndpoint | None = None,
    delivery: WebhookDelivery | None = None,
    detail: dict[str, Any] | None = None,
) -> WebhookAudit:
    """Insert one audit row in the caller's transaction."""
    return WebhookAudit.objects.create(
        merchant_id=merchant_id,
        action=action,
        actor=actor[:128],
        endpoint=endpoint,
        delivery=delivery,
        detail=detail or {},
        correlation_id=get_correlation_id(),
    )
