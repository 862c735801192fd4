"""Inbound provider notifications are signed with PROVIDER_WEBHOOK_SECRET, a secret of its
own: a notification signed the old way (a key derived from SECRET_KEY, which docker-compose
used to default to ``change-me``) is refused and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from payments.models import Payment
from payments.providers.simulator import signing
from payments.services.payments import payment_process
from tests.payments.factories import OrderFactory, PaymentFactory


def derived_from_secret_key_header(body: bytes, secret_key: str) -> str:
    """How notifications were signed before: HMAC keyed with a value derived from SECRET_KEY."""
    derived = hmac.new(secret_key.encode(), b"tender-simulator-webhook", hashlib.sha256).hexdigest().encode()
    ts = int(time.time())
    return f"t={ts},v1={hmac.new(derived, f'{ts}.'.encode() + body, hashlib.sha256).hexdigest()}"


@pytest.mark.django_db
def test_a_notification_forged_with_secret_key_is_refused_and_changes_nothing(alice, simulator, settings, client):
    settings.PROVIDER_WEBHOOK_SECRET = "provider-secret-of-its-own"
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    payment_process(payment_id=payment.id)
    payment.refresh_from_db()
    body = json.dumps(
        {
            "id": f"simevt_{payment.id}_success",
            "type": "payment.status",
            "object_type": "payment",
            "object_id": payment.id,
            "reference": payment.provider_reference,
            "status": "success",
            "error_code": None,
            "error_description": None,
        }
    ).encode()
    url = "/api/v1/provider-webhooks/simulator"
    forged = client.generic(
        "POST",
        url,
        body,
        content_type="application/json",
        HTTP_X_SIMULATOR_SIGNATURE=derived_from_secret_key_header(body, settings.SECRET_KEY),
    )
    assert forged.status_code == 401, forged.content
    assert Payment.objects.get(pk=payment.pk).status == "pending"
    genuine = client.generic(
        "POST", url, body, content_type="application/json", HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body)
    )
    assert genuine.status_code == 200
    assert Payment.objects.get(pk=payment.pk).status == "success"
