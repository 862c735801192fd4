"""Demo seeding: the test merchant's default endpoint, secret ``whsec_test_abc123``, url
from ``DEMO_WEBHOOK_URL`` (``make run`` points it at the local receiver on :4000)."""

from __future__ import annotations

import os
from typing import Any

from django.utils import timezone

from payments.demo import TEST_WEBHOOK_SECRET
from payments.models import Merchant
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import endpoint_default_get_or_create
from webhooks.transport import url_validate


def demo_webhooks_seed(merchant: Merchant, credentials: dict[str, Any]) -> None:
    """Idempotent: restores the documented secret; sets the url only when the env gives one
    (otherwise an existing url, e.g. set in the dashboard, is kept)."""
    endpoint = endpoint_default_get_or_create(merchant=merchant)
    fields: dict[str, Any] = {"secret": TEST_WEBHOOK_SECRET, "updated_at": timezone.now()}
    url = os.environ.get("DEMO_WEBHOOK_URL", "").strip()
    if url:
        fields["url"] = url_validate(url, allow_private=True)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
    endpoint.refresh_from_db()
    credentials["webhook_endpoint_id"] = endpoint.id
    credentials["webhook_url"] = endpoint.url
