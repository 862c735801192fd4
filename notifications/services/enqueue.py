"""The notifications outbox consumer: committed events → notification rows.

Runs inside the outbox dispatcher's transaction (registered in ``NotificationsConfig``), so
a row exists exactly when its event committed, and the send tasks are published only after
that commit. It never touches the payment itself: a slow mail server delays a receipt, not a
payment. Idempotent: (event_id, channel) is unique and conflicts are ignored, so an event
dispatched twice yields one receipt per channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from django.db import transaction
from django.utils import timezone

from common.tasks import task_send
from notifications.models import Notification, NotificationPreference
from notifications.services.delivery import SEND_TASK
from notifications.sms import sms_configured
from payments.models import Customer, Event, Payment

# The events a customer hears about.
NOTIFIED_EVENTS = frozenset({"payment.success", "payment.failed", "refund.processed"})


def notifications_enqueue(events: Sequence[Event]) -> int:
    """Create the pending email/SMS rows for the notified events whose payment names a
    customer, per the merchant's switches; publish one send task per new row after commit."""
    wanted = [e for e in events if e.type in NOTIFIED_EVENTS]
    if not wanted:
        return 0
    payment_of: dict[str, str] = {}  # event id -> payment id
    customer_of_payment: dict[str, str | None] = {}
    refund_payments: set[str] = set()
    for event in wanted:
        if event.object_type == "payment":
            snapshot = event.data.get("payment", {})
            payment_of[event.id] = snapshot.get("id", event.object_id)
            customer_of_payment[payment_of[event.id]] = snapshot.get("customer_id")
        else:
            payment_of[event.id] = event.data.get("refund", {}).get("payment_id")
            refund_payments.add(payment_of[event.id])
    refund_payments -= set(customer_of_payment)
    if refund_payments:
        customer_of_payment.update(Payment.objects.filter(pk__in=refund_payments).values_list("id", "customer_id"))
    customer_ids = {c for c in customer_of_payment.values() if c}
    if not customer_ids:
        return 0
    customers = Customer.objects.in_bulk(customer_ids)
    preferences = NotificationPreference.objects.in_bulk({e.merchant_id for e in wanted})
    sms_on = sms_configured()
    now = timezone.now()
    rows: list[Notification] = []
    for event in wanted:
        payment_id = payment_of[event.id]
        customer = customers.get(customer_of_payment.get(payment_id) or "")
        if customer is None:
            continue
        preference = preferences.get(event.merchant_id) or NotificationPreference(merchant_id=event.merchant_id)
        base = {
            "merchant_id": event.merchant_id,
            "mode": event.mode,
            "customer_id": customer.pk,
            "event_id": event.id,
            "event_type": event.type,
            "payment_id": payment_id,
            "refund_id": event.object_id if event.object_type == "refund" else None,
            "next_attempt_at": now,
        }
        if preference.email_enabled and customer.email:
            rows.append(Notification(channel=Notification.Channel.EMAIL, to=customer.email, **base))
        if preference.sms_enabled and sms_on and customer.phone:
            rows.append(Notification(channel=Notification.Channel.SMS, to=customer.phone, **base))
    if not rows:
        return 0
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    # bulk_create with ignore_conflicts cannot say which rows were new; a duplicate send
    # task is harmless (the send claims the row first) and the rows are few.
    ids = [row.id for row in created]
    transaction.on_commit(partial(_publish, ids))
    return len(ids)


def _publish(notification_ids: list[str]) -> None:
    for notification_id in notification_ids:
        try:
            task_send(SEND_TASK, notification_id, retry=False)
        except Exception:  # noqa: BLE001 - broker down: the sweeper sends due rows
            return
