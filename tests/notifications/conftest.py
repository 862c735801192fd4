"""Fixtures of the notification tests: a real SMTP server (aiosmtpd) on a loopback port,
with Django's SMTP backend pointed at it, and helpers that make a customer's payment end."""

from __future__ import annotations

import contextlib

import pytest

from notifications.mailsink import SinkHandler, mail_sink_start
from payments.outbox import outbox_dispatch_batch
from payments.services.transitions import payment_transition
from tests.payments.conftest import simulator  # noqa: F401 - shared fixture
from tests.support.processes import free_port


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback; ``smtp.handler.received`` holds what it accepted.
    The SMTP backend (not pytest-django's locmem outbox) sends to it."""
    handler = SinkHandler()
    port = free_port()
    controller = mail_sink_start(host="127.0.0.1", port=port, handler=handler)
    settings.EMAIL_BACKEND = "common.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    # Retries are driven by the test (no Celery countdown published from in-process sends).
    settings.NOTIFICATION_RETRY_ETA_MAX_SECONDS = -1
    settings.NOTIFICATION_RETRY_JITTER = 0.0
    controller.port = port
    controller.handler = handler
    yield controller
    with contextlib.suppress(AssertionError):  # a test may have stopped it (a dead server)
        controller.stop()


def new_customer(tenant, **fields) -> dict:
    body = {"email": "asha@example.com", "name": "Asha Rao", "phone": "+919876543210", "locale": "en-IN", **fields}
    response = tenant.client.post("/api/v1/customers", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def paid_payment(tenant, customer: dict, *, amount: int = 12345678, status: str = "success", **body) -> str:
    """A payment of ``customer`` that reached ``status``, its events dispatched."""
    response = tenant.client.post(
        "/api/v1/payments",
        {"amount": amount, "method": "upi", "vpa": "asha@okbank", "customer_id": customer["id"], **body},
        format="json",
    )
    assert response.status_code == 201, response.json()
    payment_id = response.json()["id"]
    payment_transition(
        payment_id=payment_id,
        to_status=status,
        source="test",
        error_code="payment_declined" if status == "failed" else None,
        error_description="The payer's bank declined the UPI payment" if status == "failed" else None,
    )
    while outbox_dispatch_batch():
        pass
    return payment_id
