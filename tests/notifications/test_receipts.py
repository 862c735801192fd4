"""Receipts through a real SMTP server (aiosmtpd on loopback) and SMS through a real
loopback HTTP gateway: rendered content in the customer's locale, one receipt per (event,
channel) even when the event is dispatched twice and the send runs twice, a failing server
retried then recorded failed, the merchant's switches, and the notifications API."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from notifications.checks import send_deadline_check
from notifications.models import Notification
from notifications.services.delivery import notification_send, notifications_due_sweep
from payments.models import Event
from payments.outbox import outbox_dispatch_batch
from payments.services.refunds import refund_create
from payments.services.transitions import refund_transition
from tests.notifications.conftest import new_customer, paid_payment
from tests.support.dripping import dripping_server
from tests.webhooks.receiver import Script, running_receiver

pytestmark = pytest.mark.django_db


def send_all() -> None:
    for notification_id in Notification.objects.filter(status="pending").values_list("id", flat=True):
        notification_send(notification_id=notification_id)


def test_success_receipt_renders_merchant_amount_ids_and_time_in_the_customers_format(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    customer = new_customer(alice)
    payment_id = paid_payment(alice, customer)
    email = Notification.objects.get()
    assert (email.channel, email.to, email.event_type, email.status) == (
        "email",
        "asha@example.com",
        "payment.success",
        "pending",
    )
    send_all()
    [message] = smtp.handler.received
    order_id = Event.objects.get(type="payment.success").data["payment"]["order_id"]
    assert message["To"] == "asha@example.com"
    assert message["Subject"] == "Payment received: ₹1,23,456.78 — Alice"
    assert message["Message-ID"] == f"<{email.id}@tender.localhost>"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "₹1,23,456.78" in part  # en-IN: lakh grouping
        assert payment_id in part and order_id in part
        assert "Alice" in part and "Asha Rao" in part
        assert "UPI asha@okbank" in part
        assert " UTC" in part
    assert "was successful" in text
    assert '<td data-field="payment_id">' + payment_id in html
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 1, "")
    assert email.sent_at is not None


def test_locale_and_refund_and_failure_receipts(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    customer = new_customer(alice, locale="de-DE")
    paid = paid_payment(alice, customer, amount=123456, currency="EUR")
    failed = paid_payment(alice, customer, amount=5000, currency="EUR", status="failed")
    refund = refund_create(merchant=alice.merchant, payment_id=paid, amount=2550)
    refund_transition(refund_id=refund.id, to_status="processed", source="test")
    while outbox_dispatch_batch():
        pass
    send_all()
    subjects = sorted(m["Subject"] for m in smtp.handler.received)
    assert subjects == [
        "Payment failed: 50,00\xa0€ — Alice",
        "Payment received: 1.234,56\xa0€ — Alice",
        "Refund processed: 25,50\xa0€ — Alice",
    ]
    by_subject = {m["Subject"]: m.get_body(preferencelist=("plain",)).get_content() for m in smtp.handler.received}
    failure = by_subject["Payment failed: 50,00\xa0€ — Alice"]
    assert "declined the UPI payment" in failure and "No money was taken" in failure and failed in failure
    refund_text = by_subject["Refund processed: 25,50\xa0€ — Alice"]
    assert refund.id in refund_text and "of your payment of 1.234,56\xa0€" in refund_text


def test_html_receipt_escapes_names(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    alice.merchant.name = "<script>alert(1)</script> Shop"
    alice.merchant.save(update_fields=["name"])
    customer = new_customer(alice, name="<img src=x>")
    paid_payment(alice, customer)
    send_all()
    [message] = smtp.handler.received
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x>" not in html
    assert "\n" not in message["Subject"]


def test_an_event_dispatched_twice_sends_one_receipt(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    customer = new_customer(alice)
    payment_id = paid_payment(alice, customer)
    # The outbox hands the same events to the consumer again (a crash before the mark).
    Event.objects.filter(object_id=payment_id).update(dispatched_at=None)
    assert outbox_dispatch_batch() > 0
    assert Notification.objects.count() == 1
    email = Notification.objects.get()
    # ... and the send task runs twice (a duplicate publish, or the sweeper and the task).
    notification_send(notification_id=email.id)
    notification_send(notification_id=email.id)
    assert notifications_due_sweep() == 0
    assert len(smtp.handler.received) == 1


def test_a_failing_smtp_server_is_retried_with_backoff_then_the_receipt_arrives(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    settings.NOTIFICATION_RETRY_DELAYS = [30, 300]
    refusals = []

    def refuse(message):
        if len(refusals) < 2:
            refusals.append(message["Message-ID"])
            return "451 4.3.0 Mailbox temporarily unavailable"
        return None

    smtp.handler.refuse = refuse
    paid_payment(alice, new_customer(alice))
    email = Notification.objects.get()
    before = timezone.now()
    notification_send(notification_id=email.id)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("pending", 1)
    assert "451" in email.last_error
    assert before + timedelta(seconds=29) < email.next_attempt_at < before + timedelta(seconds=32)
    assert notification_send(notification_id=email.id) is None  # not due yet: nothing sent
    Notification.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    notification_send(notification_id=email.id)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("pending", 2)
    assert email.next_attempt_at > timezone.now() + timedelta(seconds=290)
    Notification.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert notifications_due_sweep() == 1  # the Beat sweeper finds it due
    notification_send(notification_id=email.id)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 3)
    assert len(smtp.handler.received) == 1 and len(refusals) == 2
    assert smtp.handler.received[0]["Message-ID"] == refusals[0]  # the same message each time


def test_a_server_that_never_accepts_ends_failed_after_the_last_attempt(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    settings.NOTIFICATION_RETRY_DELAYS = [0, 0]
    smtp.handler.refuse = lambda message: "554 5.7.1 Rejected"
    paid_payment(alice, new_customer(alice))
    email = Notification.objects.get()
    for _ in range(3):
        notification_send(notification_id=email.id)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 3)
    assert "554" in email.last_error
    assert notification_send(notification_id=email.id) is None
    smtp.stop()  # and an unreachable server is a failed attempt too, never an exception
    payment_id = paid_payment(alice, new_customer(alice, email="ravi@example.com"))
    other = Notification.objects.get(payment_id=payment_id)
    notification_send(notification_id=other.id)
    other.refresh_from_db()
    assert (other.status, other.attempts) == ("pending", 1)
    assert other.last_error.startswith(("ConnectionRefusedError", "SMTP", "OSError"))


def test_sms_through_a_signed_http_gateway_retried_once(alice, smtp, settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_SECRET = "whsec_" + "c21zLWdhdGV3YXktc2VjcmV0LWtleQ=="
    settings.NOTIFICATION_RETRY_DELAYS = [0]
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with running_receiver(Script(fail_first=1, fail_status=503)) as gateway:
        settings.SMS_GATEWAY_URL = gateway.url
        payment_id = paid_payment(alice, new_customer(alice))
        sms = Notification.objects.get(channel="sms")
        assert sms.to == "+919876543210"
        notification_send(notification_id=sms.id)
        sms.refresh_from_db()
        assert (sms.status, sms.attempts) == ("pending", 1) and "503" in sms.last_error
        notification_send(notification_id=sms.id)
        sms.refresh_from_db()
        assert (sms.status, sms.attempts) == ("sent", 2)
        requests = gateway.by_id(sms.id)
        assert len(requests) == 2  # both attempts carry the same webhook-id: the gateway can dedupe
    last = requests[-1]
    verified = Webhook(settings.SMS_GATEWAY_SECRET).verify(last.body, last.headers)
    assert verified["to"] == "+919876543210" and verified["message_id"] == sms.id
    body = json.loads(last.body)["body"]
    assert body.startswith("Alice: payment of ₹1,23,456.78 received. Payment " + payment_id)
    assert len(body) <= 160


def test_console_sms_backend_prints_the_message(alice, smtp, settings, capsys):
    settings.SMS_BACKEND = "console"
    paid_payment(alice, new_customer(alice))
    sms = Notification.objects.get(channel="sms")
    notification_send(notification_id=sms.id)
    out = capsys.readouterr().out
    assert "[sms] to=+919876543210" in out and "₹1,23,456.78 received" in out
    sms.refresh_from_db()
    assert sms.status == "sent"


def test_merchant_switches_and_missing_contacts(alice, bob, smtp, settings):
    settings.SMS_BACKEND = "console"
    assert alice.client.get("/api/v1/notification-settings").json() == {"email_enabled": True, "sms_enabled": True}
    off = alice.client.patch("/api/v1/notification-settings", {"email_enabled": False}, format="json")
    assert off.json() == {"email_enabled": False, "sms_enabled": True}
    for bad_value in ("maybe", 0, "true"):
        bad = alice.client.patch("/api/v1/notification-settings", {"sms_enabled": bad_value}, format="json")
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "sms_enabled", bad_value
    paid_payment(alice, new_customer(alice))
    assert list(Notification.objects.values_list("channel", flat=True)) == ["sms"]
    assert bob.client.get("/api/v1/notification-settings").json()["email_enabled"] is True  # alice's only
    Notification.objects.all().delete()
    alice.client.patch("/api/v1/notification-settings", {"email_enabled": True, "sms_enabled": False}, format="json")
    paid_payment(alice, new_customer(alice, email=None, phone="+14155550100"))
    assert Notification.objects.count() == 0  # no email address, SMS off
    settings.SMS_BACKEND = ""
    alice.client.patch("/api/v1/notification-settings", {"sms_enabled": True}, format="json")
    paid_payment(alice, new_customer(alice, email=None))
    assert Notification.objects.count() == 0  # no SMS backend configured
    # A payment naming no customer notifies nobody.
    alice.client.post("/api/v1/payments", {"amount": 500, "method": "upi", "vpa": "a@b"}, format="json")
    while outbox_dispatch_batch():
        pass
    assert Notification.objects.count() == 0


def test_notifications_api_lists_by_payment_with_status_and_hides_other_merchants(alice, bob, smtp, settings):
    from tests.payments.test_contract import assert_conforms

    settings.SMS_BACKEND = "console"
    customer = new_customer(alice)
    first = paid_payment(alice, customer)
    second = paid_payment(alice, customer, amount=500)
    send_all()
    page = alice.client.get("/api/v1/notifications", {"payment_id": first})
    body = assert_conforms(page, "/api/v1/notifications")
    assert body["total"] == 2
    assert sorted((n["channel"], n["to"], n["status"], n["attempts"]) for n in body["data"]) == [
        ("email", "asha@example.com", "sent", 1),
        ("sms", "+919876543210", "sent", 1),
    ]
    assert {n["payment_id"] for n in body["data"]} == {first}
    assert {n["event_id"] for n in body["data"]} == {Event.objects.get(object_id=first, type="payment.success").id}
    assert alice.client.get("/api/v1/notifications").json()["total"] == 4
    assert bob.client.get("/api/v1/notifications", {"payment_id": first}).json()["total"] == 0
    assert bob.client.get("/api/v1/notifications").json()["total"] == 0
    assert_conforms(alice.client.get("/api/v1/notifications", {"limit": "x"}), "/api/v1/notifications")
    assert_conforms(alice.client.get("/api/v1/notification-settings"), "/api/v1/notification-settings")
    assert second


def test_a_server_that_drips_its_greeting_fails_the_send_at_the_deadline_inside_the_lease(alice, smtp, settings):
    settings.SMS_BACKEND = ""
    settings.EMAIL_SEND_DEADLINE_SECONDS = 2  # EMAIL_TIMEOUT (5 s here) never fires: a byte every 0.1 s
    paid_payment(alice, new_customer(alice))
    email = Notification.objects.get()
    with dripping_server(drip=b"220-slow") as server:  # a greeting that never ends
        settings.EMAIL_PORT = server.port
        started = time.monotonic()
        notification_send(notification_id=email.id)
        took = time.monotonic() - started
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("pending", 1)  # a failed attempt, retried later
    assert email.claimed_at is None and email.last_error
    assert took < settings.EMAIL_SEND_DEADLINE_SECONDS + 2 < settings.NOTIFICATION_LEASE_SECONDS


def test_a_send_deadline_not_below_the_lease_is_a_system_check_error(settings):
    assert send_deadline_check() == []
    settings.EMAIL_SEND_DEADLINE_SECONDS = settings.NOTIFICATION_LEASE_SECONDS
    assert [error.id for error in send_deadline_check()] == ["notifications.E003"]
