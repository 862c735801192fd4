"""The receipt path with real processes: a Celery worker (payments, outbox and notifications
queues) submits the payment, daphne takes the simulator's signed callback, the outbox
dispatcher creates the notification and the notifications queue sends it to a real SMTP
server on loopback: exactly one receipt, sent, listed by the API."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from tests.notifications.conftest import new_customer
from tests.support.processes import celery_worker, daphne_server, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.live]


def test_successful_payment_sends_one_receipt_through_the_worker(alice, simulator, smtp, tmp_path):
    customer = new_customer(alice)
    env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port), "SMS_BACKEND": ""}
    with (
        daphne_server() as base,
        celery_worker(
            env={"SIMULATOR_CALLBACK_BASE_URL": base, **env},
            queues="default,payments,outbox,notifications",
            log_path=tmp_path / "worker.log",
        ),
    ):
        payment = alice.client.post(
            "/api/v1/payments",
            {"amount": 49900, "method": "upi", "vpa": "success@upi", "customer_id": customer["id"]},
            format="json",
        ).json()
        wait_for(lambda: len(smtp.handler.received) >= 1, timeout=20, message="the receipt at the SMTP server")
        wait_for(lambda: Notification.objects.filter(status="sent").exists(), timeout=10, message="notification sent")
    [message] = smtp.handler.received
    assert message["Subject"] == "Payment received: ₹499.00 — Alice"
    assert payment["id"] in message.get_body(preferencelist=("plain",)).get_content()
    listed = alice.client.get("/api/v1/notifications", {"payment_id": payment["id"]}).json()
    assert [(n["channel"], n["status"], n["attempts"]) for n in listed["data"]] == [("email", "sent", 1)]
